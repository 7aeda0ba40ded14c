#include "admin/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "common/ids.hpp"
#include "common/json.hpp"
#include "http/body.hpp"
#include "http/pagination.hpp"

namespace parley::admin {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

bj::value int_or_null(const std::optional<std::int64_t>& n) {
    return n ? bj::value(*n) : bj::value(nullptr);
}

bj::value text_or_null(const std::optional<std::string>& s) {
    return s ? bj::value(*s) : bj::value(nullptr);
}

bj::object user_json(const store::AdminUser& u) {
    return {
        {"id", u.id},
        {"email", u.email},
        {"created_at", to_iso8601(u.created_at)},
        {"role", u.access.role},
        {"disabled", u.access.disabled()},
        {"disabled_at", json::time_or_null(u.access.disabled_at)},
        {"rate_limit_per_minute", int_or_null(u.access.rate_limit_per_minute)},
        {"ai_rate_limit_per_minute", int_or_null(u.access.ai_rate_limit_per_minute)},
        {"max_budget_usd", json::usd_or_null(u.access.max_budget_micros)},
        {"soft_budget_usd", json::usd_or_null(u.access.soft_budget_micros)},
        {"budget_period", u.access.budget_period},
    };
}

// An optional `user_id` query parameter: absent, or a UUID (else 422).
std::optional<std::string> user_id_param(const http::Request& req) {
    auto id = req.query_param("user_id");
    if (!id || id->empty()) {
        return std::nullopt;
    }
    if (!is_uuid(*id)) {
        throw ErrorException(make_error(ErrorType::unprocessable, "`user_id` must be a UUID"));
    }
    return id;
}

// A rate limit in a PATCH body: absent (nullopt), null (back to the default) or an integer.
std::optional<std::optional<std::int64_t>> limit_field(
    const bj::object& body, std::string_view key
) {
    if (!body.contains(key)) {
        return std::nullopt;
    }
    return value_or_throw(json::optional_int(body, key));
}

}  // namespace

asio::awaitable<http::Response> list_users(http::Request& req, AdminService& admin) {
    const auto page = value_or_throw(http::parse_page(req));
    const auto users =
        value_or_throw(co_await admin.list_users(req.principal(), page.offset(), page.per_page));
    bj::array data;
    for (const auto& u : users.items) {
        data.push_back(user_json(u));
    }
    co_return http::success_list(std::move(data), page.page, page.per_page, users.total);
}

asio::awaitable<http::Response> update_user(http::Request& req, AdminService& admin) {
    const auto id = req.path_param("id");
    if (!is_uuid(id)) {
        throw ErrorException(make_error(ErrorType::not_found, "no such user"));
    }
    const auto body = value_or_throw(http::read_json_object(req));
    value_or_throw(json::reject_unknown_fields(
        body,
        {"disabled",
         "role",
         "rate_limit_per_minute",
         "ai_rate_limit_per_minute",
         "max_budget_usd",
         "soft_budget_usd",
         "budget_period"}
    ));
    UserChange change;
    if (body.contains("disabled")) {
        const auto* v = body.if_contains("disabled");
        if (!v->is_bool()) {
            throw ErrorException(
                make_error(ErrorType::unprocessable, "`disabled` must be a boolean")
            );
        }
        change.disabled = v->get_bool();
    }
    if (body.contains("role")) {
        const auto* v = body.if_contains("role");
        if (!v->is_string()) {
            throw ErrorException(
                make_error(ErrorType::unprocessable, "`role` must be admin or user")
            );
        }
        change.role = std::string(v->get_string());
    }
    change.rate_limit_per_minute = limit_field(body, "rate_limit_per_minute");
    change.ai_rate_limit_per_minute = limit_field(body, "ai_rate_limit_per_minute");
    change.budget = value_or_throw(auth::budget_fields_of(body));
    const auto user = value_or_throw(
        co_await admin.update_user(req.principal(), std::string(id), std::move(change))
    );
    co_return http::success(user_json(user));
}

asio::awaitable<http::Response> usage(http::Request& req, AdminService& admin) {
    const auto from = value_or_throw(http::time_param(req, "from"));
    const auto to = value_or_throw(http::time_param(req, "to"));
    const auto rows =
        value_or_throw(co_await admin.usage(req.principal(), user_id_param(req), from, to));
    bj::array data;
    std::int64_t messages = 0;
    std::int64_t calls = 0;
    std::int64_t input = 0;
    std::int64_t output = 0;
    std::int64_t cost = 0;
    for (const auto& r : rows) {
        data.push_back(bj::object{
            {"date", r.day},
            {"model", r.model},
            {"user_count", r.user_count},
            {"message_count", r.message_count},
            {"call_count", r.call_count},
            {"input_tokens", r.input_tokens},
            {"output_tokens", r.output_tokens},
            {"cost_usd", static_cast<double>(r.cost_micros) / 1'000'000.0},
            {"cost_micros", r.cost_micros},
        });
        messages += r.message_count;
        calls += r.call_count;
        input += r.input_tokens;
        output += r.output_tokens;
        cost += r.cost_micros;
    }
    co_return http::success(bj::object{
        {"message_count", messages},
        {"call_count", calls},
        {"total_input_tokens", input},
        {"total_output_tokens", output},
        {"cost_usd", static_cast<double>(cost) / 1'000'000.0},
        {"cost_micros", cost},
        {"by_day_and_model", std::move(data)},
    });
}

asio::awaitable<http::Response> audit(http::Request& req, AdminService& admin) {
    const auto page = value_or_throw(http::parse_page(req));
    store::AuditFilter filter;
    if (auto kind = req.query_param("kind"); kind && !kind->empty()) {
        if (!auth::is_audit_kind(*kind)) {
            throw ErrorException(make_error(
                ErrorType::unprocessable,
                "`kind` must be one of signup, login, login_failed, refresh_reuse, "
                "api_key_created, api_key_revoked, admin_user_updated, admin_granted, "
                "budget_exceeded"
            ));
        }
        filter.kind = std::move(*kind);
    }
    filter.user_id = user_id_param(req);
    filter.from = value_or_throw(http::time_param(req, "from"));
    filter.to = value_or_throw(http::time_param(req, "to"));
    const auto events = value_or_throw(
        co_await admin.audit(req.principal(), std::move(filter), page.offset(), page.per_page)
    );
    bj::array data;
    for (const auto& e : events.items) {
        // Stored by the audit log as a JSON object; anything else is shown as an empty one.
        boost::system::error_code ec;
        auto detail = bj::parse(e.detail, ec);
        data.push_back(bj::object{
            {"id", e.id},
            {"kind", e.kind},
            {"user_id", text_or_null(e.user_id)},
            {"actor_id", text_or_null(e.actor_id)},
            {"ip", text_or_null(e.ip)},
            {"detail", ec || !detail.is_object() ? bj::value(bj::object{}) : std::move(detail)},
            {"created_at", to_iso8601(e.created_at)},
        });
    }
    co_return http::success_list(std::move(data), page.page, page.per_page, events.total);
}

}  // namespace parley::admin
