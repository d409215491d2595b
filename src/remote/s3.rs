//! An S3 (or S3-compatible) store for `s3://BUCKET/KEY`, configured the way
//! AWS tools are: mount options first, then `AWS_*` environment variables,
//! then the profile `AWS_PROFILE` names (or `default`), then what
//! `object_store` finds itself (web identity, container and instance
//! credentials). Secrets pass from there to the client only: they are
//! never formatted into a message.

use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use super::{profile, Settings};

/// `s3://BUCKET/KEY` split into bucket and key (the key may be empty or
/// end in `/` for a prefix).
pub fn split(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, key))
}

/// The store for `bucket`, and the server it reaches (its endpoint, or AWS
/// and the region).
pub fn store(
    bucket: &str,
    settings: &Settings,
    client: ClientOptions,
    retry: RetryConfig,
) -> Result<(Box<dyn ObjectStore>, String), String> {
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_client_options(client)
        .with_retry(retry);
    let set = |b: &AmazonS3Builder, k| b.get_config_value(&k).is_some_and(|v| !v.is_empty());
    if settings.anonymous {
        b = b.with_skip_signature(true);
    } else if !set(&b, AmazonS3ConfigKey::AccessKeyId) {
        if let Some(p) = profile::load()? {
            if let Some(what) = &p.unsupported {
                return Err(format!(
                    "the AWS profile gets its keys by {what}, which h5fs does not follow: \
                     export AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead"
                ));
            }
            if let (Some(k), Some(s)) = (p.access_key_id, p.secret_access_key) {
                b = b.with_access_key_id(k).with_secret_access_key(s);
                if let Some(t) = p.session_token {
                    b = b.with_token(t);
                }
            }
            if let (Some(r), false) = (p.region, set(&b, AmazonS3ConfigKey::Region)) {
                b = b.with_region(r);
            }
            if let (Some(e), false) = (p.endpoint_url, set(&b, AmazonS3ConfigKey::Endpoint)) {
                b = b.with_endpoint(e);
            }
        }
    }
    if let Some(r) = &settings.region {
        b = b.with_region(r);
    }
    if let Some(e) = &settings.endpoint {
        b = b.with_endpoint(e);
    }
    let endpoint = b.get_config_value(&AmazonS3ConfigKey::Endpoint);
    if endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"))
    {
        b = b.with_allow_http(true);
    }
    // Path-style addressing ({endpoint}/{bucket}/{key}), which every
    // S3-compatible server answers.
    b = b.with_virtual_hosted_style_request(false);
    let server = endpoint.unwrap_or_else(|| {
        let region = b.get_config_value(&AmazonS3ConfigKey::Region);
        format!("aws {}", region.as_deref().unwrap_or("us-east-1"))
    });
    b.build()
        .map(|s| (Box::new(s) as Box<dyn ObjectStore>, server))
        .map_err(|e| format!("s3://{bucket}: {e}"))
}

/// For an object not found: a line saying so if its bucket is what is
/// missing (None if the bucket is there, or that cannot be told).
pub fn no_bucket(url: &str, settings: &Settings) -> Option<String> {
    let (bucket, _) = split(url)?;
    let store = store(
        bucket,
        settings,
        ClientOptions::new(),
        RetryConfig::default(),
    )
    .ok()?
    .0;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let listed = runtime.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(30),
            store.list_with_delimiter(None),
        )
        .await
    });
    match listed {
        // object_store reports a failed list as a generic error; S3 names
        // the case in the answer it quotes.
        Ok(Err(e))
            if matches!(e, object_store::Error::NotFound { .. })
                || e.to_string().contains("NoSuchBucket") =>
        {
            Some(format!("s3://{bucket}: no such bucket (HTTP 404)"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_keys() {
        assert_eq!(split("s3://b/k/x.h5"), Some(("b", "k/x.h5")));
        assert_eq!(split("s3://b/pre/"), Some(("b", "pre/")));
        assert_eq!(split("s3://b"), Some(("b", "")));
        assert_eq!(split("s3:///k"), None);
        assert_eq!(split("https://b/k"), None);
    }
}
