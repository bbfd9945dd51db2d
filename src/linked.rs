//! The plugin crates compiled into this binary. A crate that is never referenced is not
//! linked, and its `inventory` registrations would silently vanish: each enabled plugin is
//! named here once, with one of its config types.

macro_rules! link_plugins {
    ($($feature:literal => $krate:ident :: $config:ident),* $(,)?) => {
        $(
            #[cfg(feature = $feature)]
            use $krate as _;
        )*

        /// Names each plugin crate above from code that runs, so the linker keeps it (and with
        /// it its `inventory` registrations).
        pub fn ensure_linked() {
            $(
                #[cfg(feature = $feature)]
                std::hint::black_box($krate::$config::COMPONENT_NAME);
            )*
        }
    };
}

link_plugins! {
    "basicauth" => seam_plugin_basicauth::BasicAuthMiddlewareConfig,
    "cache" => seam_plugin_cache::CacheMiddlewareConfig,
    "cors" => seam_plugin_cors::CorsMiddlewareConfig,
    "csrf" => seam_plugin_csrf::CsrfMiddlewareConfig,
    "helmet" => seam_plugin_helmet::HelmetMiddlewareConfig,
    "httpfw" => seam_plugin_httpfw::HttpActionConfig,
    "jwt" => seam_plugin_jwt::JwtValidationMiddlewareConfig,
    "limiter" => seam_plugin_limiter::LimiterMiddlewareConfig,
    "logger" => seam_plugin_logger::LoggerMiddlewareConfig,
    "memory" => seam_plugin_memory::MemoryStorageConfig,
    "opentelemetry" => seam_plugin_opentelemetry::OpenTelemetryMiddlewareConfig,
    "requestid" => seam_plugin_requestid::RequestIdMiddlewareConfig,
    "respond" => seam_plugin_respond::RespondActionConfig,
    "sessions" => seam_plugin_sessions::SessionMiddlewareConfig,
    "valkey" => seam_plugin_valkey::ValkeyStorageConfig,
    "wsfw" => seam_plugin_wsfw::WebSocketActionConfig,
}
