#include "tools/tool.hpp"

#include <boost/json/serialize.hpp>

#include "common/json.hpp"
#include "common/strings.hpp"

namespace parley::tools {

ToolResult ToolResult::success(const boost::json::object& body) {
    return ToolResult{true, boost::json::serialize(body)};
}

ToolResult ToolResult::failure(std::string_view message, boost::json::object extra) {
    boost::json::object body;
    body["error"] = message;
    for (auto& [key, value] : extra) {
        if (key != "error") {
            body[key] = std::move(value);
        }
    }
    return ToolResult{false, boost::json::serialize(body)};
}

Result<std::optional<std::string>> optional_string_argument(
    const boost::json::object& arguments, std::string_view key, std::size_t max_length
) {
    auto value = json::optional_string(arguments, key);
    if (!value || !*value) {
        return value;
    }
    const auto trimmed = trim(**value);
    // Boost.JSON has validated the UTF-8, so counting code points is safe.
    if (utf8_length(trimmed) > max_length) {
        return make_error(
            ErrorType::unprocessable,
            "`" + std::string(key) + "` is longer than " + std::to_string(max_length) +
                " characters"
        );
    }
    return std::optional<std::string>{std::string(trimmed)};
}

Result<std::string> string_argument(
    const boost::json::object& arguments, std::string_view key, std::size_t max_length
) {
    auto value = optional_string_argument(arguments, key, max_length);
    if (!value) {
        return value.error();
    }
    if (!*value || (*value)->empty()) {
        return make_error(ErrorType::unprocessable, "`" + std::string(key) + "` is required");
    }
    return std::move(**value);
}

}  // namespace parley::tools
