#include "usage/routes.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "common/json.hpp"
#include "http/pagination.hpp"

namespace parley::usage {

namespace asio = boost::asio;
namespace bj = boost::json;

namespace {

double usd(std::int64_t micros) {
    return static_cast<double>(micros) / 1'000'000.0;
}

bj::object row_json(std::string_view key_name, const store::UsageRow& r) {
    return {
        {key_name, r.key},
        {"message_count", r.message_count},
        {"call_count", r.call_count},
        {"input_tokens", r.input_tokens},
        {"output_tokens", r.output_tokens},
        {"cost_usd", usd(r.cost_micros)},
    };
}

// A budget as GET /api/v1/usage/budget shows it.
bj::object budget_json(const BudgetView& v) {
    bj::value remaining = nullptr;
    if (v.limit.max_micros) {
        remaining =
            usd(std::max<std::int64_t>(*v.limit.max_micros - v.spend.spent - v.spend.reserved, 0));
    }
    return {
        {"max_budget_usd", json::usd_or_null(v.limit.max_micros)},
        {"soft_budget_usd", json::usd_or_null(v.limit.soft_micros)},
        {"budget_period", budget_period_name(v.period)},
        {"spent_usd", usd(v.spend.spent)},
        {"reserved_usd", usd(v.spend.reserved)},
        {"remaining_usd", std::move(remaining)},
        {"spent_micros", v.spend.spent},
        {"reserved_micros", v.spend.reserved},
        {"period_start", to_iso8601(v.period_start)},
        {"reset_at", v.reset_at ? bj::value(to_iso8601(*v.reset_at)) : bj::value(nullptr)},
    };
}

}  // namespace

asio::awaitable<http::Response> models(http::Request& /*req*/, const llm::ModelRouter& router) {
    bj::array data;
    for (const auto& m : router.catalog().models()) {
        data.push_back(bj::object{
            {"id", m.id},
            {"provider", m.provider},
            {"name", m.name},
            {"max_context_tokens", m.context_window},
            {"max_output_tokens", m.max_output},
            {"cost_per_1k_input", m.input_per_mtok / 1000.0},
            {"cost_per_1k_output", m.output_per_mtok / 1000.0},
            {"is_default", m.id == router.options().default_model},
            {"is_fallback", m.id == router.options().fallback_model},
            {"available", router.available(m)},
            {"supports_thinking", m.thinking},
            {"supports_tools", m.tools},
        });
    }
    co_return http::success(data);
}

asio::awaitable<http::Response> stats(http::Request& req, store::Store& store) {
    const auto from = value_or_throw(http::time_param(req, "from"));
    const auto to = value_or_throw(http::time_param(req, "to"));
    const auto s = value_or_throw(co_await store.usage_stats(req.principal().user_id, from, to));
    bj::array by_model;
    for (const auto& r : s.by_model) {
        by_model.push_back(row_json("model", r));
    }
    bj::array by_day;
    for (const auto& r : s.by_day) {
        by_day.push_back(row_json("date", r));
    }
    bj::array by_key;
    for (const auto& r : s.by_key) {
        auto row = row_json("api_key_id", r);
        if (r.key.empty()) {
            row["api_key_id"] = nullptr;  // access tokens, and the conversations' messages
        }
        by_key.push_back(std::move(row));
    }
    co_return http::success(bj::object{
        {"conversation_count", s.conversation_count},
        {"message_count", s.message_count},
        {"call_count", s.call_count},
        {"total_input_tokens", s.input_tokens},
        {"total_output_tokens", s.output_tokens},
        {"estimated_cost_usd", usd(s.cost_micros)},
        {"by_model", std::move(by_model)},
        {"by_day", std::move(by_day)},
        {"by_key", std::move(by_key)},
    });
}

asio::awaitable<http::Response> budget(http::Request& req, Budgets& budgets) {
    const auto views = value_or_throw(co_await budgets.status(req.principal()));
    bj::object data{{"user", nullptr}, {"api_key", nullptr}};
    for (const auto& v : views) {
        auto j = budget_json(v);
        j["id"] = v.id;
        data[v.scope] = std::move(j);
    }
    co_return http::success(std::move(data));
}

}  // namespace parley::usage
