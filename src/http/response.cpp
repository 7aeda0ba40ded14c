#include "http/response.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/strings.hpp"

namespace parley::http {

namespace bj = boost::json;

std::string_view Response::header(std::string_view name) const noexcept {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) {
            return v;
        }
    }
    return {};
}

Response json_response(int status, const bj::value& body) {
    return json_text(status, bj::serialize(body));
}

Response json_text(int status, std::string body) {
    Response r;
    r.status = status;
    r.content_type = "application/json";
    r.body = std::move(body);
    return r;
}

bj::storage_ptr json_arena() {
    return bj::make_shared_resource<bj::monotonic_resource>();
}

Response success(bj::value data, int status) {
    bj::object body(data.storage());
    body.reserve(2);
    body.emplace("status", "success");
    body.emplace("data", std::move(data));
    return json_response(status, std::move(body));
}

Response success_list(
    bj::array data, std::int64_t page, std::int64_t per_page, std::int64_t total
) {
    bj::object body(data.storage());
    body.reserve(5);
    body.emplace("status", "success");
    body.emplace("data", std::move(data));
    body.emplace("page", page);
    body.emplace("per_page", per_page);
    body.emplace("total", total);
    return json_response(200, std::move(body));
}

Response no_content() {
    Response r;
    r.status = 204;
    return r;
}

Response error_response(const Error& error, std::string_view request_id) {
    bj::object body{
        {"type", error_type_name(error.type)},
        {"message", error.message},
        {"request_id", request_id},
    };
    if (error.reset_at) {
        body["reset_at"] = *error.reset_at;
    }
    Response r = json_response(
        error_status(error.type), bj::object{{"status", "error"}, {"error", std::move(body)}}
    );
    if (error.retry_after_s) {
        r.set_header("Retry-After", std::to_string(*error.retry_after_s));
    }
    return r;
}

}  // namespace parley::http
