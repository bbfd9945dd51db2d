use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use schemars::JsonSchema;
use seam_registry::{Action, BuildAction, BuildContext, BuildError, ConfigError};
use serde::{Deserialize, Serialize};

use crate::action::RespondAction;

/// Answers without any upstream: a fixed status, body and headers, or (`echo: true`) a JSON echo of the request.
///
/// The echo shows the method, path, route parameters, query and headers exactly as an
/// upstream behind the gateway would receive them, which makes it handy for trying
/// middlewares out.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, seam_registry::Action)]
#[serde(deny_unknown_fields, rename_all = "camelCase", default)]
#[seam(name = "plugins.respond.actions.RespondAction")]
pub struct RespondActionConfig {
    /// HTTP status code of the reply.
    #[schemars(range(min = 100, max = 599))]
    pub status: u16,
    /// Body of the reply (ignored with `echo: true`).
    pub body: String,
    /// Headers of the reply, `Name: value`.
    pub headers: BTreeMap<String, String>,
    /// Reply with a JSON description of the request instead of `body`.
    pub echo: bool,
}

impl Default for RespondActionConfig {
    fn default() -> Self {
        RespondActionConfig { status: 200, body: String::new(), headers: BTreeMap::new(), echo: false }
    }
}

impl RespondActionConfig {
    fn header_map(&self) -> Result<HeaderMap, ConfigError> {
        let mut map = HeaderMap::new();
        for (name, value) in &self.headers {
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                ConfigError::field(format!("headers.{name}"), format!("`{name}` is not a valid header name"))
            })?;
            let value = HeaderValue::from_str(value).map_err(|_| {
                ConfigError::field(
                    format!("headers.{name}"),
                    format!("the value of header `{name}` is not a valid header value"),
                )
            })?;
            map.append(header, value);
        }
        Ok(map)
    }
}

#[async_trait]
impl BuildAction for RespondActionConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if StatusCode::from_u16(self.status).is_err() || self.status < 100 {
            return Err(ConfigError::field("status", format!("{} is not an HTTP status code", self.status)));
        }
        if self.echo && !self.body.is_empty() {
            return Err(
                ConfigError::field("body", "`body` has no effect with `echo: true`").help("remove `body` or `echo`")
            );
        }
        self.header_map().map(drop)
    }

    async fn build(&self, _cx: &BuildContext<'_>) -> Result<Arc<dyn Action>, BuildError> {
        let status = StatusCode::from_u16(self.status).map_err(|e| BuildError::new(e.to_string()))?;
        let headers = self.header_map().map_err(|e| BuildError::new(e.message))?;
        Ok(Arc::new(RespondAction::new(status, headers, self.body.clone().into(), self.echo)))
    }
}
