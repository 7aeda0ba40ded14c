#include "common/error.hpp"

#include <gtest/gtest.h>

namespace parley {
namespace {

TEST(ErrorTest, EveryTypeMapsToItsStatusAndWireName) {
    struct Case {
        ErrorType type;
        int status;
        std::string_view name;
    };

    const Case cases[] = {
        {ErrorType::invalid_request, 400, "invalid_request_error"},
        {ErrorType::unprocessable, 422, "invalid_request_error"},
        {ErrorType::unsupported_media_type, 415, "invalid_request_error"},
        {ErrorType::method_not_allowed, 405, "invalid_request_error"},
        {ErrorType::authentication, 401, "authentication_error"},
        {ErrorType::permission, 403, "permission_error"},
        {ErrorType::not_found, 404, "not_found_error"},
        {ErrorType::conflict, 409, "conflict_error"},
        {ErrorType::request_too_large, 413, "request_too_large"},
        {ErrorType::headers_too_large, 431, "request_too_large"},
        {ErrorType::rate_limit, 429, "rate_limit_error"},
        {ErrorType::budget_exceeded, 429, "budget_exceeded_error"},
        {ErrorType::api, 500, "api_error"},
        {ErrorType::upstream, 502, "api_error"},
        {ErrorType::overloaded, 503, "overloaded_error"},
    };
    for (const auto& c : cases) {
        EXPECT_EQ(error_status(c.type), c.status) << c.name;
        EXPECT_EQ(error_type_name(c.type), c.name) << c.status;
    }
}

TEST(ErrorTest, ResultValueThrowsErrorException) {
    Result<int> r = make_error(ErrorType::not_found, "no such thing", "row 7 missing");
    ASSERT_FALSE(r.has_value());
    try {
        (void)r.value();
        FAIL() << "value() on an error must throw";
    } catch (const ErrorException& e) {
        EXPECT_EQ(e.error().type, ErrorType::not_found);
        EXPECT_EQ(e.error().message, "no such thing");
        EXPECT_EQ(e.error().detail, "row 7 missing");
    }
}

}  // namespace
}  // namespace parley
