//! How every backproof part that talks to S3 (the server, the reference clients, the stack)
//! configures aws-sdk-s3, so they agree on TLS, addressing and credentials. Callers add
//! what is theirs (timeouts, retries, checksum policy) to the builder.
#![forbid(unsafe_code)]

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, SharedHttpClient};

/// The S3 client's HTTP client: what aws-sdk-s3's `default-https-client` feature builds
/// (hyper 1 + rustls, proxy settings from the environment), but with rustls on ring instead
/// of aws-lc-rs. ring is the provider reqwest and the fault proxy already use, so the
/// workspace compiles one TLS crypto backend, not two (aws-lc-rs brings aws-lc-sys, a large
/// C and assembly build).
pub fn http_client() -> SharedHttpClient {
    use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
    use aws_smithy_http_client::{Builder, ConnectorBuilder, proxy::ProxyConfig};
    Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn = ConnectorBuilder::default().tls_provider(Provider::Rustls(CryptoMode::Ring));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    })
}

/// Where an S3 is and who signs the requests.
#[derive(Clone, Copy)]
pub struct Endpoint<'a> {
    /// `http(s)://host:port`; a trailing `/` is ignored.
    pub url: &'a str,
    pub region: &'a str,
    pub access_key: &'a str,
    pub secret_key: &'a str,
}

/// A client configuration for `endpoint`: path-style addressing (every S3 implementation
/// backproof meets serves it; virtual hosts need DNS), static credentials named
/// `provider` in the SDK's logs, and [`http_client`].
pub fn config(endpoint: Endpoint<'_>, provider: &'static str) -> aws_sdk_s3::config::Builder {
    aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client())
        .endpoint_url(endpoint.url.trim_end_matches('/'))
        .force_path_style(true)
        .credentials_provider(Credentials::new(
            endpoint.access_key,
            endpoint.secret_key,
            None,
            None,
            provider,
        ))
        .region(Region::new(endpoint.region.to_owned()))
}

impl std::fmt::Debug for Endpoint<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach logs.
        f.debug_struct("Endpoint")
            .field("url", &self.url)
            .field("region", &self.region)
            .field("access_key", &"<redacted>")
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// [`config`] as it is.
pub fn client(endpoint: Endpoint<'_>, provider: &'static str) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(config(endpoint, provider).build())
}
