#include "http/body.hpp"

#include "common/json.hpp"
#include "common/strings.hpp"

namespace parley::http {

Result<boost::json::value> read_json_value(const Request& req) {
    const auto type = req.header("Content-Type");
    const auto media = type ? to_lower(trim(type->substr(0, type->find(';')))) : std::string{};
    if (media != "application/json") {
        return make_error(
            ErrorType::unsupported_media_type, "Content-Type must be application/json"
        );
    }
    if (trim(req.body()).empty()) {
        return make_error(
            ErrorType::invalid_request, "request body is empty; expected a JSON object"
        );
    }
    if (!is_valid_utf8(req.body())) {
        return make_error(ErrorType::invalid_request, "request body is not valid UTF-8");
    }
    return json::parse(req.body(), req.json_max_depth(), json::DuplicateKeys::refuse);
}

Result<boost::json::object> read_json_object(const Request& req) {
    auto value = read_json_value(req);
    if (!value) {
        return value.error();
    }
    if (!value->is_object()) {
        return make_error(ErrorType::unprocessable, "request body must be a JSON object");
    }
    return std::move(value->get_object());
}

}  // namespace parley::http
