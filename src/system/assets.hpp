// Files embedded in the binary at build time (API docs UIs, the OpenAPI document, the web client),
// so that one `parley` binary serves them with no install step and no internet.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace parley::assets {

struct Asset {
    std::string_view path;          // URL path it is served at, e.g. "/docs/assets/swagger-ui.css"
    std::string_view content_type;  // e.g. "text/css; charset=utf-8"
    std::string_view data;
};

// The embedded file served at `path`, if any; its content type follows from the extension (a path
// without one is an HTML page). Thread-safe; no allocation.
std::optional<Asset> find_asset(std::string_view path) noexcept;

namespace detail {
struct EmbeddedEntry {
    const char* path;
    const char* begin;
    const char* end;
};

extern const EmbeddedEntry kEntries[];
extern const std::size_t kEntryCount;
}  // namespace detail

}  // namespace parley::assets
