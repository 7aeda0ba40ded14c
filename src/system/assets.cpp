#include "system/assets.hpp"

namespace parley::assets {

namespace {

std::string_view content_type_for(std::string_view path) noexcept {
    const auto slash = path.rfind('/');
    const auto dot = path.rfind('.');
    if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) {
        return "text/html; charset=utf-8";
    }
    const auto ext = path.substr(dot);
    if (ext == ".js" || ext == ".mjs") {
        return "text/javascript; charset=utf-8";
    }
    if (ext == ".css") {
        return "text/css; charset=utf-8";
    }
    if (ext == ".json") {
        return "application/json";
    }
    if (ext == ".html") {
        return "text/html; charset=utf-8";
    }
    if (ext == ".svg") {
        return "image/svg+xml";
    }
    if (ext == ".png") {
        return "image/png";
    }
    return "application/octet-stream";
}

}  // namespace

std::optional<Asset> find_asset(std::string_view path) noexcept {
    for (std::size_t i = 0; i < detail::kEntryCount; ++i) {
        const auto& e = detail::kEntries[i];
        if (path == e.path) {
            return Asset{
                e.path,
                content_type_for(e.path),
                std::string_view(e.begin, static_cast<std::size_t>(e.end - e.begin)),
            };
        }
    }
    return std::nullopt;
}

}  // namespace parley::assets
