// The JSON body reader every route uses (http::read_json_object) and the field decoders of
// common/json.hpp that the routes build their request DTOs from. Any body gives an object or a
// 4xx error, never a crash; an accepted object has no repeated key and no nesting past the limit;
// the field decoders give a value or a 422 for every field of it.
#include <set>
#include <string>

#include <boost/json/value.hpp>

#include "common/json.hpp"
#include "fuzz_input.hpp"
#include "http/body.hpp"

using parley::fuzz::check;
namespace bj = boost::json;
namespace json = parley::json;

namespace {

// Nesting depth: 0 for a scalar, 1 for an object or array of scalars.
std::size_t depth(const bj::value& v) {
    std::size_t inner = 0;
    if (v.is_object()) {
        for (const auto& [k, x] : v.get_object()) {
            inner = std::max(inner, depth(x));
        }
        return inner + 1;
    }
    if (v.is_array()) {
        for (const auto& x : v.get_array()) {
            inner = std::max(inner, depth(x));
        }
        return inner + 1;
    }
    return 0;
}

bool unique_keys(const bj::value& v) {
    if (v.is_object()) {
        std::set<std::string_view> keys;
        for (const auto& [k, x] : v.get_object()) {
            if (!keys.insert(k).second || !unique_keys(x)) {
                return false;
            }
        }
    } else if (v.is_array()) {
        for (const auto& x : v.get_array()) {
            if (!unique_keys(x)) {
                return false;
            }
        }
    }
    return true;
}

template <class T>
void expect_value_or_422(const parley::Result<T>& r) {
    check(r || r.error().type == parley::ErrorType::unprocessable, "a field decoder failed oddly");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    parley::fuzz::Input in(data, size);
    static const char* const kTypes[] = {
        "application/json", "Application/JSON; charset=utf-8", "text/plain", "application/json;"};
    const std::string type = kTypes[in.byte() % 4];
    const std::size_t max_depth = 1 + in.byte() % 64;
    parley::http::Request req(
        parley::http::Method::post, "/fuzz", {{"Content-Type", type}}, std::string(in.rest())
    );
    req.set_json_max_depth(max_depth);

    const auto body = parley::http::read_json_object(req);
    if (!body) {
        const auto t = body.error().type;
        check(
            t == parley::ErrorType::invalid_request || t == parley::ErrorType::unprocessable ||
                t == parley::ErrorType::unsupported_media_type,
            "a body refused with a status other than 400, 415 or 422"
        );
        return 0;
    }
    const bj::value whole(*body);
    check(unique_keys(whole), "a repeated key accepted");
    check(depth(whole) <= max_depth, "nesting past the limit accepted");

    const auto known = json::reject_unknown_fields(*body, {"title", "model", "content"});
    expect_value_or_422(known);
    if (known) {
        for (const auto& [k, v] : *body) {
            check(k == "title" || k == "model" || k == "content", "an unknown field accepted");
        }
    }
    for (const auto& [key, value] : *body) {
        expect_value_or_422(json::required_string(*body, key));
        expect_value_or_422(json::optional_string(*body, key));
        expect_value_or_422(json::optional_bool(*body, key));
        expect_value_or_422(json::optional_int(*body, key));
        expect_value_or_422(json::optional_number(*body, key));
    }
    return 0;
}
