use std::sync::Arc;

use http::{HeaderName, HeaderValue};
use seam_core::interned::{interned_name, interned_value};
use seam_core::{BuildContext, BuildError, Component, Middleware, PathStep, Problem, Problems, async_trait};

use crate::middleware::HelmetMiddleware;

/// Security headers on every answer (Fiber's helmet, Seam's keys and defaults): `X-Content-Type-Options`, `X-Frame-Options`, `Referrer-Policy`, the `Cross-Origin-*` policies and more; HSTS over HTTPS.
///
/// The headers are set when the answer passes back through the middleware, so they are
/// there on proxied answers too. An empty value keeps the default (as in Seam); list a
/// header in `omit` to not send it at all.
#[seam_core::component(name = "plugins.helmet.middlewares.HelmetMiddleware")]
#[derive(Clone, Debug)]
#[serde(default)]
pub struct HelmetMiddlewareConfig {
    /// `X-XSS-Protection`.
    pub xss_protection: String,
    /// `X-Content-Type-Options`.
    pub content_type_nosniff: String,
    /// `X-Frame-Options`.
    pub x_frame_options: String,
    /// `Strict-Transport-Security: max-age=N` in seconds, sent only on HTTPS (as the gateway sees the request's scheme); 0 sends none.
    pub hsts_max_age: i64,
    /// Leave `; includeSubDomains` out of HSTS.
    pub hsts_exclude_subdomains: bool,
    /// Add `; preload` to HSTS.
    pub hsts_preload_enabled: bool,
    /// `Content-Security-Policy`; empty sends none.
    pub content_security_policy: String,
    /// Send the policy as `Content-Security-Policy-Report-Only` instead.
    pub csp_report_only: bool,
    /// `Referrer-Policy`. Default `no-referrer` (Fiber's): Seam's default, the literal `ReferrerPolicy`, is not a valid policy and browsers ignore it.
    pub referrer_policy: String,
    /// `Permissions-Policy`; empty sends none.
    pub permission_policy: String,
    /// `Cross-Origin-Embedder-Policy`.
    pub cross_origin_embedder_policy: String,
    /// `Cross-Origin-Opener-Policy`.
    pub cross_origin_opener_policy: String,
    /// `Cross-Origin-Resource-Policy`.
    pub cross_origin_resource_policy: String,
    /// `Origin-Agent-Cluster`.
    pub origin_agent_cluster: String,
    /// `X-DNS-Prefetch-Control`.
    pub xdns_prefetch_control: String,
    /// `X-Download-Options`.
    pub x_download_options: String,
    /// `X-Permitted-Cross-Domain-Policies`.
    pub x_permitted_cross_domain: String,
    /// Header names not to send at all (e.g. `Cross-Origin-Embedder-Policy`, which breaks cross-origin resources of proxied pages).
    pub omit: Vec<String>,
    /// When the upstream's answer already has one of these headers: `true` (default) replaces it with the middleware's value, `false` keeps the upstream's.
    pub override_upstream: bool,
}

impl Default for HelmetMiddlewareConfig {
    fn default() -> Self {
        HelmetMiddlewareConfig {
            xss_protection: "0".into(),
            content_type_nosniff: "nosniff".into(),
            x_frame_options: "SAMEORIGIN".into(),
            hsts_max_age: 0,
            hsts_exclude_subdomains: false,
            hsts_preload_enabled: false,
            content_security_policy: String::new(),
            csp_report_only: false,
            referrer_policy: "no-referrer".into(),
            permission_policy: String::new(),
            cross_origin_embedder_policy: "require-corp".into(),
            cross_origin_opener_policy: "same-origin".into(),
            cross_origin_resource_policy: "same-origin".into(),
            origin_agent_cluster: "?1".into(),
            xdns_prefetch_control: "off".into(),
            x_download_options: "noopen".into(),
            x_permitted_cross_domain: "none".into(),
            omit: Vec::new(),
            override_upstream: true,
        }
    }
}

#[async_trait]
impl Component for HelmetMiddlewareConfig {
    type Output = dyn Middleware;

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Middleware>, BuildError> {
        let defaults = HelmetMiddlewareConfig::default();
        let mut problems = Problems::new();
        // (key, header, value, default): an empty value keeps the default, as in Seam.
        let string_headers = [
            ("xssProtection", "x-xss-protection", &self.xss_protection, &defaults.xss_protection),
            (
                "contentTypeNosniff",
                "x-content-type-options",
                &self.content_type_nosniff,
                &defaults.content_type_nosniff,
            ),
            ("xFrameOptions", "x-frame-options", &self.x_frame_options, &defaults.x_frame_options),
            (
                "crossOriginEmbedderPolicy",
                "cross-origin-embedder-policy",
                &self.cross_origin_embedder_policy,
                &defaults.cross_origin_embedder_policy,
            ),
            (
                "crossOriginOpenerPolicy",
                "cross-origin-opener-policy",
                &self.cross_origin_opener_policy,
                &defaults.cross_origin_opener_policy,
            ),
            (
                "crossOriginResourcePolicy",
                "cross-origin-resource-policy",
                &self.cross_origin_resource_policy,
                &defaults.cross_origin_resource_policy,
            ),
            ("originAgentCluster", "origin-agent-cluster", &self.origin_agent_cluster, &defaults.origin_agent_cluster),
            ("referrerPolicy", "referrer-policy", &self.referrer_policy, &defaults.referrer_policy),
            (
                "xdnsPrefetchControl",
                "x-dns-prefetch-control",
                &self.xdns_prefetch_control,
                &defaults.xdns_prefetch_control,
            ),
            ("xDownloadOptions", "x-download-options", &self.x_download_options, &defaults.x_download_options),
            (
                "xPermittedCrossDomain",
                "x-permitted-cross-domain-policies",
                &self.x_permitted_cross_domain,
                &defaults.x_permitted_cross_domain,
            ),
        ];
        let known: Vec<&str> = string_headers
            .iter()
            .map(|(_, h, _, _)| *h)
            .chain([
                "strict-transport-security",
                "content-security-policy",
                "content-security-policy-report-only",
                "permissions-policy",
            ])
            .collect();
        let mut omitted = Vec::new();
        for (i, name) in self.omit.iter().enumerate() {
            let lower = name.to_ascii_lowercase();
            if known.contains(&lower.as_str()) {
                omitted.push(lower);
            } else {
                problems.push(
                    Problem::at(
                        vec![PathStep::Key("omit".into()), PathStep::Index(i)],
                        format!("`{name}` is not a header this middleware sets"),
                    )
                    .help(format!("the headers are {}", known.join(", "))),
                );
            }
        }
        let mut value = |key: &str, text: &str| {
            problems.check(
                HeaderValue::from_str(text)
                    .map_err(|_| Problem::field(key, format!("`{text}` is not a valid header value"))),
            )
        };
        let mut headers = Vec::new();
        for (key, header, text, default) in string_headers {
            let text = if text.is_empty() { default } else { text };
            if let Some(v) = value(key, text) {
                headers.push((HeaderName::from_static(header), v));
            }
        }
        if !self.content_security_policy.is_empty() {
            let header =
                if self.csp_report_only { "content-security-policy-report-only" } else { "content-security-policy" };
            if let Some(v) = value("contentSecurityPolicy", &self.content_security_policy) {
                headers.push((HeaderName::from_static(header), v));
            }
        }
        if !self.permission_policy.is_empty()
            && let Some(v) = value("permissionPolicy", &self.permission_policy)
        {
            headers.push((HeaderName::from_static("permissions-policy"), v));
        }
        let hsts = (self.hsts_max_age != 0).then(|| {
            let mut text = format!("max-age={}", self.hsts_max_age);
            if !self.hsts_exclude_subdomains {
                text.push_str("; includeSubDomains");
            }
            if self.hsts_preload_enabled {
                text.push_str("; preload");
            }
            HeaderValue::from_str(&text).expect("digits and ASCII")
        });
        problems.into_result()?;
        headers.retain(|(name, _)| !omitted.iter().any(|o| o == name.as_str()));
        let hsts = hsts.filter(|_| !omitted.iter().any(|o| o == "strict-transport-security"));
        let headers = headers.iter().map(|(name, value)| (interned_name(name), interned_value(value))).collect();
        let hsts = hsts.as_ref().map(interned_value);
        Ok(Arc::new(HelmetMiddleware { headers, hsts, override_upstream: self.override_upstream }))
    }
}
