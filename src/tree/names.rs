//! Naming rules: which entries a group shows, and symlink texts.
//!
//! Pure functions, so the rules are unit-tested without HDF5:
//! - every link is an entry under its own name, in the group's order;
//! - a dataset `NAME` is followed by its sidecar `NAME.json`, unless the group
//!   has a real member called `NAME.json` (the real member wins);
//! - names the kernel cannot carry (empty, `.`, `..`, longer than 255 bytes)
//!   are left out, and so is a sidecar whose name would be too long.

use std::collections::HashSet;

/// Longest name a Linux directory entry can have.
pub const NAME_MAX: usize = 255;

pub const SIDECAR_SUFFIX: &[u8] = b".json";

/// What a link resolves to, as far as naming is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target<T> {
    /// An object; `is_dataset` decides whether it gets a sidecar.
    Object { id: T, is_dataset: bool },
    /// A symlink with this text.
    Symlink(Vec<u8>),
}

/// A file shown beside a dataset `NAME`, computed from it, named `NAME`
/// plus its suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum View {
    /// `NAME.json`: the dataset's description.
    Sidecar,
    /// `NAME.npy`: a .npy header followed by the dataset's bytes.
    Npy,
    /// `NAME.hdr`: an ENVI header for the raw file `NAME`.
    Envi,
    /// `NAME.nhdr`: a detached NRRD header for `NAME`.
    Nrrd,
    /// `NAME.mhd`: a MetaImage header for `NAME`.
    Mhd,
    /// `.zgroup` of a group in the Zarr store (`-o zarr`).
    ZGroup,
    /// `.zattrs` of a group or array in the Zarr store.
    ZAttrs,
    /// `.zarray` of a dataset shown as a Zarr array.
    ZArray,
    /// `.zmetadata`, the store's consolidated metadata, at the root.
    ZMetadata,
    /// `.userblock` at the root: the bytes before the HDF5 data.
    UserBlock,
}

/// The header views `-o views=` can name, in the order they are listed.
pub const HEADER_VIEWS: [View; 4] = [View::Npy, View::Envi, View::Nrrd, View::Mhd];

impl View {
    pub fn suffix(self) -> &'static [u8] {
        match self {
            View::Sidecar => SIDECAR_SUFFIX,
            View::Npy => b".npy",
            View::Envi => b".hdr",
            View::Nrrd => b".nhdr",
            View::Mhd => b".mhd",
            View::ZGroup => b".zgroup",
            View::ZAttrs => b".zattrs",
            View::ZArray => b".zarray",
            View::ZMetadata => b".zmetadata",
            View::UserBlock => b".userblock",
        }
    }

    /// The view named `name` in `-o views=`: `npy`, `envi`, `nrrd`, `mhd`.
    pub fn from_option(name: &str) -> Option<View> {
        HEADER_VIEWS.into_iter().find(|v| v.option_name() == name)
    }

    pub fn option_name(self) -> &'static str {
        match self {
            View::Sidecar => "json",
            View::Npy => "npy",
            View::Envi => "envi",
            View::Nrrd => "nrrd",
            View::Mhd => "mhd",
            View::ZGroup | View::ZAttrs | View::ZArray | View::ZMetadata => "zarr",
            View::UserBlock => "userblock",
        }
    }

    /// Whether the file's contents name the data file beside it (so that
    /// each name of a dataset needs its own).
    pub fn names_data_file(self) -> bool {
        matches!(self, View::Nrrd | View::Mhd)
    }

    /// The name of this view of the dataset named `dataset`.
    pub fn name(self, dataset: &[u8]) -> Vec<u8> {
        let mut n = dataset.to_vec();
        n.extend_from_slice(self.suffix());
        n
    }
}

/// One planned directory entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Planned<T> {
    Entry {
        name: Vec<u8>,
        target: Target<T>,
    },
    View {
        name: Vec<u8>,
        dataset: T,
        view: View,
    },
}

pub fn name_ok(name: &[u8]) -> bool {
    !name.is_empty() && name != b"." && name != b".." && name.len() <= NAME_MAX
}

/// The suffixes that make a file being written become a dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suffix {
    /// `NAME.npy`: a dataset from a `.npy` stream.
    Npy,
    /// `NAME.json`: a dataset described by a sidecar.
    Sidecar,
}

/// `NAME.npy` or `NAME.json` (NAME not empty): the suffix and NAME.
pub fn split_suffix(name: &[u8]) -> Option<(Suffix, &[u8])> {
    let stem = |suffix: &[u8]| name.strip_suffix(suffix).filter(|s| !s.is_empty());
    if let Some(base) = stem(b".npy") {
        Some((Suffix::Npy, base))
    } else {
        stem(SIDECAR_SUFFIX).map(|base| (Suffix::Sidecar, base))
    }
}

/// Plan a group's entries from its links (name, target), in link order,
/// each dataset followed by the views `views_of` gives for it. A real member
/// wins over a view of the same name. Returns the plan and the names left out.
pub fn plan_entries<T: Clone>(
    links: Vec<(Vec<u8>, Target<T>)>,
    views_of: &dyn Fn(&[u8], &T) -> Vec<View>,
) -> (Vec<Planned<T>>, Vec<Vec<u8>>) {
    let real: HashSet<Vec<u8>> = links.iter().map(|(n, _)| n.clone()).collect();
    let mut out = Vec::with_capacity(links.len() * 2);
    let mut skipped = Vec::new();
    for (name, target) in links {
        if !name_ok(&name) {
            skipped.push(name);
            continue;
        }
        let shown: Vec<Planned<T>> = match &target {
            Target::Object {
                id,
                is_dataset: true,
            } => views_of(&name, id)
                .iter()
                .filter_map(|view| {
                    let n = view.name(&name);
                    if real.contains(&n) {
                        None
                    } else if !name_ok(&n) {
                        skipped.push(n);
                        None
                    } else {
                        Some(Planned::View {
                            name: n,
                            dataset: id.clone(),
                            view: *view,
                        })
                    }
                })
                .collect(),
            _ => Vec::new(),
        };
        out.push(Planned::Entry { name, target });
        out.extend(shown);
    }
    (out, skipped)
}

/// The symlink text for an HDF5 soft link with value `value`, found in the
/// group at absolute path `dir`: absolute values become relative to `dir`.
pub fn soft_link_text(dir: &[u8], value: &[u8]) -> Vec<u8> {
    if !value.starts_with(b"/") {
        return value.to_vec();
    }
    let parts = |p: &[u8]| -> Vec<Vec<u8>> {
        p.split(|b| *b == b'/')
            .filter(|c| !c.is_empty() && *c != b".")
            .map(|c| c.to_vec())
            .collect()
    };
    let from = parts(dir);
    let to = parts(value);
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out: Vec<Vec<u8>> = vec![b"..".to_vec(); from.len() - common];
    out.extend(to[common..].iter().cloned());
    if out.is_empty() {
        return b".".to_vec();
    }
    out.join(&b'/')
}

/// The text of a dangling symlink standing for an external link that cannot be followed.
/// The text of a symlink for an external link, in a directory mount, to
/// object `path` of another file of the tree: from the group `group` of the
/// file at `file` (both files' paths relative to the tree's root) to
/// `target`'s directory and the object in it.
pub fn tree_link_text(file: &[u8], group: &[u8], target: &[u8], path: &[u8]) -> Vec<u8> {
    let under = |a: &[u8], b: &[u8]| {
        let mut p = b"/".to_vec();
        p.extend_from_slice(a);
        p.push(b'/');
        p.extend_from_slice(b);
        p
    };
    soft_link_text(&under(file, group), &under(target, path))
}

pub fn external_link_text(file: &[u8], path: &[u8]) -> Vec<u8> {
    let mut t = file.to_vec();
    t.push(b':');
    t.extend_from_slice(path);
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(id: u32, is_dataset: bool) -> Target<u32> {
        Target::Object { id, is_dataset }
    }

    #[test]
    fn external_links_within_a_tree_are_relative_symlinks() {
        assert_eq!(
            tree_link_text(b"a.h5", b"/", b"sub/b.h5", b"/grp/data"),
            b"../sub/b.h5/grp/data"
        );
        assert_eq!(
            tree_link_text(b"x/a.h5", b"/g/h", b"x/b.h5", b"/"),
            b"../../../b.h5"
        );
        assert_eq!(tree_link_text(b"a.h5", b"/g", b"a.h5", b"d"), b"../d");
    }

    #[test]
    fn npy_and_json_suffixes() {
        assert_eq!(split_suffix(b"a.npy"), Some((Suffix::Npy, &b"a"[..])));
        assert_eq!(
            split_suffix(b"a.b.json"),
            Some((Suffix::Sidecar, &b"a.b"[..]))
        );
        assert_eq!(split_suffix(b".npy"), None);
        assert_eq!(split_suffix(b"a.txt"), None);
        assert_eq!(split_suffix(b"json"), None);
    }

    #[test]
    fn datasets_get_sidecars_right_after_them() {
        let (plan, skipped) = plan_entries(
            vec![
                (b"g".to_vec(), obj(1, false)),
                (b"d".to_vec(), obj(2, true)),
                (b"l".to_vec(), Target::Symlink(b"d".to_vec())),
            ],
            &|_, _| vec![View::Sidecar],
        );
        assert!(skipped.is_empty());
        assert_eq!(
            plan,
            vec![
                Planned::Entry {
                    name: b"g".to_vec(),
                    target: obj(1, false)
                },
                Planned::Entry {
                    name: b"d".to_vec(),
                    target: obj(2, true)
                },
                Planned::View {
                    name: b"d.json".to_vec(),
                    dataset: 2,
                    view: View::Sidecar
                },
                Planned::Entry {
                    name: b"l".to_vec(),
                    target: Target::Symlink(b"d".to_vec())
                },
            ]
        );
    }

    #[test]
    fn a_real_member_wins_over_a_sidecar() {
        let (plan, _) = plan_entries(
            vec![
                (b"foo".to_vec(), obj(1, true)),
                (b"foo.json".to_vec(), obj(2, true)),
            ],
            &|_, _| vec![View::Sidecar],
        );
        let names: Vec<&[u8]> = plan
            .iter()
            .map(|p| match p {
                Planned::Entry { name, .. } | Planned::View { name, .. } => name.as_slice(),
            })
            .collect();
        assert_eq!(names, vec![&b"foo"[..], b"foo.json", b"foo.json.json"]);
        assert!(matches!(&plan[1], Planned::Entry { .. }));
    }

    #[test]
    fn unrepresentable_names_are_left_out() {
        let long = vec![b'x'; 256];
        let almost = vec![b'y'; 252];
        let (plan, skipped) = plan_entries(
            vec![
                (b".".to_vec(), obj(1, false)),
                (long.clone(), obj(2, true)),
                (almost.clone(), obj(3, true)),
            ],
            &|_, _| vec![View::Sidecar],
        );
        assert_eq!(plan.len(), 1);
        assert_eq!(
            skipped,
            vec![b".".to_vec(), long, View::Sidecar.name(&almost)]
        );
    }

    #[test]
    fn absolute_soft_links_become_relative() {
        assert_eq!(soft_link_text(b"/", b"/a/b"), b"a/b");
        assert_eq!(soft_link_text(b"/g1/g2", b"/a/b"), b"../../a/b");
        assert_eq!(soft_link_text(b"/g1/g2", b"/g1/x"), b"../x");
        assert_eq!(soft_link_text(b"/g1", b"/"), b"..");
        assert_eq!(soft_link_text(b"/", b"/"), b".");
        assert_eq!(soft_link_text(b"/g", b"rel/x"), b"rel/x");
        assert_eq!(soft_link_text(b"/g", b"/g"), b".");
    }

    #[test]
    fn external_text_names_file_and_path() {
        assert_eq!(external_link_text(b"other.h5", b"/data"), b"other.h5:/data");
    }
}
