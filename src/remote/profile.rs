//! AWS shared configuration files (`~/.aws/credentials`, `~/.aws/config`),
//! read the way the AWS command line reads them, for what h5fs uses of
//! them: keys, session token, region and endpoint of one profile.
//!
//! `object_store` reads only environment variables, so profiles are read
//! here. Profiles that get their keys another way (a role to assume, SSO,
//! an external process) are refused with a message saying so.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What a profile gives.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
    /// A setting that gets keys in a way h5fs does not follow.
    pub unsupported: Option<String>,
}

/// Settings that get keys in ways h5fs does not follow.
const UNSUPPORTED: [&str; 5] = [
    "role_arn",
    "credential_process",
    "sso_start_url",
    "sso_session",
    "web_identity_token_file",
];

/// The sections of an INI text, by name, each a map of its keys.
fn sections(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut all: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        // Indented lines belong to a nested block (`s3 =` and its keys),
        // which h5fs does not need.
        if raw.starts_with([' ', '\t']) {
            continue;
        }
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            all.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((k, v))) = (&current, line.split_once('=')) {
            if !v.trim().is_empty() {
                all.entry(section.clone())
                    .or_default()
                    .insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
    }
    all
}

/// Profile `name` from the texts of the credentials and config files;
/// None if neither has it. The credentials file wins where both say.
pub fn parse(name: &str, credentials: &str, config: &str) -> Option<Profile> {
    let creds = sections(credentials).remove(name);
    let config_name = match name {
        "default" => "default".to_string(),
        n => format!("profile {n}"),
    };
    let conf = sections(config).remove(&config_name);
    if creds.is_none() && conf.is_none() {
        return None;
    }
    let mut keys = conf.unwrap_or_default();
    keys.extend(creds.unwrap_or_default());
    let take = |k: &str| keys.get(k).cloned();
    let mut p = Profile {
        access_key_id: take("aws_access_key_id"),
        secret_access_key: take("aws_secret_access_key"),
        session_token: take("aws_session_token"),
        region: take("region"),
        endpoint_url: take("endpoint_url"),
        unsupported: None,
    };
    if p.access_key_id.is_none() {
        p.unsupported = UNSUPPORTED
            .iter()
            .find(|k| keys.contains_key(**k))
            .map(|k| k.to_string());
    }
    Some(p)
}

/// Where the two files are: `AWS_SHARED_CREDENTIALS_FILE`,
/// `AWS_CONFIG_FILE`, else in `~/.aws`.
fn files() -> (Option<PathBuf>, Option<PathBuf>) {
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).join(".aws"));
    let pick = |var: &str, file: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(file)))
    };
    (
        pick("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
        pick("AWS_CONFIG_FILE", "config"),
    )
}

/// The profile `AWS_PROFILE` names (or `default`). Err if one was named
/// and is in neither file; Ok(None) if `default` is not there either.
pub fn load() -> Result<Option<Profile>, String> {
    let named = std::env::var("AWS_PROFILE").ok().filter(|p| !p.is_empty());
    let name = named.as_deref().unwrap_or("default");
    let (creds, config) = files();
    let read = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    };
    match parse(name, &read(&creds), &read(&config)) {
        Some(p) => Ok(Some(p)),
        None if named.is_some() => Err(format!(
            "AWS_PROFILE={name}: no such profile in the AWS credentials or config file"
        )),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CREDS: &str = "\
# keys
[default]
aws_access_key_id = AKDEFAULT
aws_secret_access_key = sdefault

[lab]
aws_access_key_id=AKLAB
aws_secret_access_key=slab
aws_session_token = tlab
";

    const CONFIG: &str = "\
[default]
region = eu-west-1

[profile lab]
region = us-west-2
endpoint_url = https://s3.lab.example
s3 =
  addressing_style = path

[profile assumed]
role_arn = arn:aws:iam::1:role/r
source_profile = default
";

    #[test]
    fn profiles_join_both_files() {
        let d = parse("default", CREDS, CONFIG).unwrap();
        assert_eq!(d.access_key_id.as_deref(), Some("AKDEFAULT"));
        assert_eq!(d.secret_access_key.as_deref(), Some("sdefault"));
        assert_eq!(d.region.as_deref(), Some("eu-west-1"));
        assert_eq!(d.session_token, None);
        let lab = parse("lab", CREDS, CONFIG).unwrap();
        assert_eq!(lab.session_token.as_deref(), Some("tlab"));
        assert_eq!(lab.region.as_deref(), Some("us-west-2"));
        assert_eq!(lab.endpoint_url.as_deref(), Some("https://s3.lab.example"));
        assert_eq!(lab.unsupported, None);
    }

    #[test]
    fn missing_and_unsupported_profiles() {
        assert_eq!(parse("nope", CREDS, CONFIG), None);
        // "[lab]" in the config file is not profile lab.
        assert_eq!(parse("x", "", "[x]\nregion=a\n"), None);
        let a = parse("assumed", CREDS, CONFIG).unwrap();
        assert_eq!(a.unsupported.as_deref(), Some("role_arn"));
        assert_eq!(a.access_key_id, None);
    }
}
