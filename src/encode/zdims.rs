//! Dimension names of a Zarr store's arrays (`_ARRAY_DIMENSIONS`, which
//! xarray needs on every array), as netCDF-4 names the dimensions of an
//! HDF5 file, so that `xr.open_zarr` and `xr.open_dataset` agree.
//!
//! An axis with an attached dimension scale is named after the scale's
//! dataset (the last scale attached, as netCDF-C and h5netcdf take it); a
//! dimension scale is its own dimension. Every other axis gets a "phony"
//! dimension as netCDF-C makes them: variables are taken group by group, a
//! group's subgroups before its own variables, each in link order; an axis
//! reuses the first dimension of the same group with its length and
//! unlimitedness that the variable does not use yet, else a new
//! `phony_dim_N` is made in the group, N counting on from the number of
//! real dimensions (scales) in the file.

/// A variable's axes, for naming.
#[derive(Debug, Clone, PartialEq)]
pub struct Var {
    /// Index of its group (any numbering; dimensions are shared per group).
    pub group: usize,
    pub shape: Vec<u64>,
    pub unlimited: Vec<bool>,
    /// Names from attached scales, per axis.
    pub named: Vec<Option<String>>,
}

/// A real dimension (a dimension scale): its group, name, length, unlimitedness.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    pub group: usize,
    pub name: String,
    pub len: u64,
    pub unlimited: bool,
}

/// Dimension names of `vars`, given in netCDF's processing order.
pub fn assign(real: &[Dim], vars: &[Var]) -> Vec<Vec<String>> {
    let mut next = real.len();
    let mut dims: Vec<Dim> = real.to_vec();
    vars.iter()
        .map(|v| {
            let mut names: Vec<String> = Vec::with_capacity(v.shape.len());
            for (i, len) in v.shape.iter().enumerate() {
                if let Some(Some(n)) = v.named.get(i) {
                    names.push(n.clone());
                    continue;
                }
                let unl = v.unlimited.get(i).copied().unwrap_or(false);
                let reuse = dims.iter().find(|d| {
                    d.group == v.group
                        && d.len == *len
                        && d.unlimited == unl
                        && !names.contains(&d.name)
                });
                match reuse {
                    Some(d) => names.push(d.name.clone()),
                    None => {
                        let name = format!("phony_dim_{next}");
                        next += 1;
                        dims.push(Dim {
                            group: v.group,
                            name: name.clone(),
                            len: *len,
                            unlimited: unl,
                        });
                        names.push(name);
                    }
                }
            }
            names
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(group: usize, shape: &[u64]) -> Var {
        Var {
            group,
            shape: shape.to_vec(),
            unlimited: vec![false; shape.len()],
            named: vec![None; shape.len()],
        }
    }

    /// The names netCDF-C 4.10 gave a file with /g/d (5,), /a (3, 4),
    /// /b (4, 3), /c (3, 6): the subgroup first, then the root's variables.
    #[test]
    fn phony_dims_as_netcdf_names_them() {
        let got = assign(
            &[],
            &[
                var(1, &[5]),
                var(0, &[3, 4]),
                var(0, &[4, 3]),
                var(0, &[3, 6]),
            ],
        );
        assert_eq!(
            got,
            vec![
                vec!["phony_dim_0"],
                vec!["phony_dim_1", "phony_dim_2"],
                vec!["phony_dim_2", "phony_dim_1"],
                vec!["phony_dim_1", "phony_dim_3"],
            ]
        );
    }

    #[test]
    fn scales_name_axes_and_are_reused_by_length() {
        let real = vec![Dim {
            group: 0,
            name: "x".into(),
            len: 4,
            unlimited: false,
        }];
        let mut named = var(0, &[2, 4]);
        named.named[1] = Some("x".into());
        let got = assign(&real, &[named, var(0, &[4, 4]), var(1, &[4])]);
        assert_eq!(got[0], vec!["phony_dim_1", "x"]);
        // The same length in the same group: the real dimension, then a new one.
        assert_eq!(got[1], vec!["x", "phony_dim_2"]);
        // Another group has its own.
        assert_eq!(got[2], vec!["phony_dim_3"]);
        // Unlimitedness must match.
        let mut unl = var(0, &[4]);
        unl.unlimited[0] = true;
        assert_eq!(assign(&real, &[unl]), vec![vec!["phony_dim_1"]]);
    }
}
