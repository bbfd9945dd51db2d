//! The plugin crates compiled into this binary. A crate that is never referenced is not
//! linked, and its `inventory` registrations would silently vanish: each enabled plugin is
//! named here.

#[cfg(feature = "example-storage")]
use seam_example_custom_storage as _;
#[cfg(feature = "cache")]
use seam_plugin_cache as _;
#[cfg(feature = "httpfw")]
use seam_plugin_httpfw as _;
#[cfg(feature = "limiter")]
use seam_plugin_limiter as _;
#[cfg(feature = "memory")]
use seam_plugin_memory as _;
#[cfg(feature = "respond")]
use seam_plugin_respond as _;
#[cfg(feature = "sessions")]
use seam_plugin_sessions as _;
#[cfg(feature = "valkey")]
use seam_plugin_valkey as _;

/// Keeps the `use` lines above from being optimized into nothing.
pub fn ensure_linked() {
    #[cfg(feature = "cache")]
    std::hint::black_box(seam_plugin_cache::CacheMiddlewareConfig::COMPONENT_NAME);
    #[cfg(feature = "httpfw")]
    std::hint::black_box(seam_plugin_httpfw::HttpActionConfig::COMPONENT_NAME);
    #[cfg(feature = "limiter")]
    std::hint::black_box(seam_plugin_limiter::LimiterMiddlewareConfig::COMPONENT_NAME);
    #[cfg(feature = "memory")]
    std::hint::black_box(seam_plugin_memory::MemoryStorageConfig::COMPONENT_NAME);
    #[cfg(feature = "respond")]
    std::hint::black_box(seam_plugin_respond::RespondActionConfig::COMPONENT_NAME);
    #[cfg(feature = "sessions")]
    std::hint::black_box(seam_plugin_sessions::SessionMiddlewareConfig::COMPONENT_NAME);
    #[cfg(feature = "valkey")]
    std::hint::black_box(seam_plugin_valkey::ValkeyStorageConfig::COMPONENT_NAME);
    #[cfg(feature = "example-storage")]
    std::hint::black_box(seam_example_custom_storage::HashMapStorageConfig::COMPONENT_NAME);
}
