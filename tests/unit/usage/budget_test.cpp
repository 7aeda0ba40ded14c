// usage::Budgets over a real store (a temporary SQLite database) with an injected clock: the
// calendar UTC periods and their resets, the 429 budget_exceeded error (message, Retry-After,
// reset_at), the account's and the key's caps together, rollover into a new period, the soft cap's
// warning, a hold released when it is dropped unsettled, and the audit event written once per
// subject and period.
#include "usage/budget.hpp"

#include <chrono>

#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "auth/audit_log.hpp"
#include "common/ids.hpp"
#include "store/admin_store.hpp"
#include "store/budget_store.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::usage {
namespace {

namespace chr = std::chrono;
using testing::run_awaitable;

TimePoint utc(chr::year_month_day day, int hour = 0, int minute = 0) {
    return chr::sys_days{day} + chr::hours(hour) + chr::minutes(minute);
}

// Budgets::settle for run_awaitable, which needs a value.
boost::asio::awaitable<bool> settled(Budgets& budgets, BudgetHold hold, std::int64_t cost) {
    co_await budgets.settle(std::move(hold), cost);
    co_return true;
}

TEST(BudgetPeriods, CalendarUtcStartsAndResets) {
    // Wednesday 2026-12-02 15:30 UTC.
    const auto now = utc(chr::year{2026} / chr::December / 2, 15, 30);
    EXPECT_EQ(period_start(BudgetPeriod::daily, now), utc(chr::year{2026} / chr::December / 2));
    EXPECT_EQ(period_reset(BudgetPeriod::daily, now), utc(chr::year{2026} / chr::December / 3));
    // ISO weeks start on Monday (2026-11-30).
    EXPECT_EQ(period_start(BudgetPeriod::weekly, now), utc(chr::year{2026} / chr::November / 30));
    EXPECT_EQ(period_reset(BudgetPeriod::weekly, now), utc(chr::year{2026} / chr::December / 7));
    EXPECT_EQ(period_start(BudgetPeriod::monthly, now), utc(chr::year{2026} / chr::December / 1));
    EXPECT_EQ(period_reset(BudgetPeriod::monthly, now), utc(chr::year{2027} / chr::January / 1));
    EXPECT_EQ(period_start(BudgetPeriod::total, now), TimePoint{});
    EXPECT_FALSE(period_reset(BudgetPeriod::total, now));
    // A Sunday belongs to the week that started six days before; a Monday starts its own.
    const auto sunday = utc(chr::year{2026} / chr::December / 6, 23, 59);
    EXPECT_EQ(
        period_start(BudgetPeriod::weekly, sunday), utc(chr::year{2026} / chr::November / 30)
    );
    const auto monday = utc(chr::year{2026} / chr::December / 7);
    EXPECT_EQ(period_start(BudgetPeriod::weekly, monday), monday);
    // The end of February in a leap year.
    const auto feb = utc(chr::year{2028} / chr::February / 29, 12);
    EXPECT_EQ(period_reset(BudgetPeriod::monthly, feb), utc(chr::year{2028} / chr::March / 1));
    EXPECT_EQ(parse_budget_period("weekly"), BudgetPeriod::weekly);
    EXPECT_FALSE(parse_budget_period("yearly"));
    EXPECT_EQ(micros_to_usd_text(1'500'000), "1.500000");
    EXPECT_EQ(micros_to_usd_text(125), "0.000125");
}

class BudgetsTest : public ::testing::Test {
protected:
    void SetUp() override {
        db_ = std::make_unique<testing::TestDatabase>(testing::Backend::sqlite);
        store_ = db_->open(pool_);
        ASSERT_TRUE(store_->migrate().has_value());
        user_ = store::User{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", now_};
        ASSERT_TRUE(run_awaitable(store_->create_user(user_)).has_value());
        audit_ = std::make_unique<auth::AuditLog>(store::admin_store(*store_));
        budgets_ = std::make_unique<Budgets>(
            store::budget_store(*store_),
            audit_.get(),
            [this] { ++soft_warnings_; },
            [this] { return now_; }
        );
    }

    void TearDown() override {
        budgets_.reset();
        audit_.reset();
        store_.reset();
        db_.reset();
    }

    void set_user_budget(
        std::optional<std::int64_t> max, std::optional<std::int64_t> soft, std::string period
    ) {
        auto& admin = store::admin_store(*store_);
        auto access = run_awaitable(admin.find_user_access(user_.id));
        ASSERT_TRUE(access.has_value() && access->has_value());
        auto next = **access;
        next.max_budget_micros = max;
        next.soft_budget_micros = soft;
        next.budget_period = std::move(period);
        ASSERT_TRUE(run_awaitable(admin.update_user_access(next)).value());
    }

    Principal who() const { return Principal{user_.id, "", kAllScopes, false}; }

    // Reserves `estimate` and settles it with `cost` at once.
    Result<void> spend(std::int64_t estimate, std::int64_t cost) {
        return run_awaitable(
            [](Budgets& b, Principal p, std::int64_t e, std::int64_t c
            ) -> boost::asio::awaitable<Result<void>> {
                auto hold = co_await b.reserve(std::move(p), e);
                if (!hold) {
                    co_return hold.error();
                }
                co_await b.settle(std::move(*hold), c);
                co_return Result<void>{};
            }(*budgets_, who(), estimate, cost)
        );
    }

    store::BudgetSpend counts() {
        auto views = run_awaitable(budgets_->status(who()));
        EXPECT_TRUE(views.has_value());
        return views && !views->empty() ? views->front().spend : store::BudgetSpend{};
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<testing::TestDatabase> db_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<auth::AuditLog> audit_;
    std::unique_ptr<Budgets> budgets_;
    store::User user_;
    TimePoint now_ = utc(chr::year{2026} / chr::December / 2, 23, 0);
    int soft_warnings_ = 0;
};

// Counts the settlements that reach the store (issue 14: a free call without a cap writes none).
class CountingBudgetStore final : public store::BudgetStore {
public:
    explicit CountingBudgetStore(store::BudgetStore& inner) : inner_(inner) {}

    boost::asio::awaitable<Result<std::optional<store::BudgetLimit>>> find_user_budget(
        std::string user_id
    ) override {
        return inner_.find_user_budget(std::move(user_id));
    }

    boost::asio::awaitable<Result<std::optional<store::BudgetLimit>>> find_key_budget(
        std::string key_id
    ) override {
        return inner_.find_key_budget(std::move(key_id));
    }

    boost::asio::awaitable<Result<bool>> set_key_budget(
        std::string key_id, store::BudgetLimit limit
    ) override {
        return inner_.set_key_budget(std::move(key_id), std::move(limit));
    }

    boost::asio::awaitable<Result<store::BudgetReservation>> reserve_budget(
        std::vector<store::BudgetCharge> charges, TimePoint now
    ) override {
        return inner_.reserve_budget(std::move(charges), now);
    }

    boost::asio::awaitable<Result<std::vector<store::BudgetSpend>>> settle_budget(
        std::vector<store::BudgetCharge> charges, std::int64_t cost
    ) override {
        ++settlements;
        return inner_.settle_budget(std::move(charges), cost);
    }

    boost::asio::awaitable<Result<store::BudgetSpend>> budget_spend(
        std::string subject, TimePoint period_start
    ) override {
        return inner_.budget_spend(std::move(subject), period_start);
    }

    int settlements = 0;

private:
    store::BudgetStore& inner_;
};

TEST_F(BudgetsTest, AFreeCallWithoutACapSettlesNothingAndAPricedOneIsCounted) {
    CountingBudgetStore counting(store::budget_store(*store_));
    budgets_ = std::make_unique<Budgets>(counting, nullptr, nullptr, [this] { return now_; });
    ASSERT_TRUE(spend(500, 0).has_value());  // uncapped: nothing held; free: nothing billed
    EXPECT_EQ(counting.settlements, 0);
    ASSERT_TRUE(spend(500, 7).has_value());
    EXPECT_EQ(counting.settlements, 1);
    EXPECT_EQ(counts().spent, 7);
    set_user_budget(1'000, std::nullopt, "daily");
    ASSERT_TRUE(spend(500, 0).has_value());  // capped: the hold must be released
    EXPECT_EQ(counting.settlements, 2);
    EXPECT_EQ(counts().reserved, 0);
    EXPECT_EQ(counts().spent, 0);  // the daily period's: the free call billed nothing
    budgets_.reset();              // before `counting` goes
}

TEST_F(BudgetsTest, ADailyCapRefusesWith429UntilTheNextDay) {
    set_user_budget(1'000, std::nullopt, "daily");
    ASSERT_TRUE(spend(600, 600).has_value());
    ASSERT_TRUE(spend(400, 400).has_value());
    EXPECT_EQ(counts().spent, 1'000);
    const auto refused = spend(1, 1);
    ASSERT_FALSE(refused.has_value());
    const Error& e = refused.error();
    EXPECT_EQ(e.type, ErrorType::budget_exceeded);
    EXPECT_EQ(error_status(e.type), 429);
    EXPECT_EQ(error_type_name(e.type), "budget_exceeded_error");
    EXPECT_EQ(e.retry_after_s, 3'600);  // 23:00 → midnight
    EXPECT_EQ(e.reset_at, "2026-12-03T00:00:00.000Z");
    EXPECT_NE(e.message.find("daily budget of 0.001000 USD"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("2026-12-03T00:00:00.000Z"), std::string::npos) << e.message;
    // The next day is a new period.
    now_ += chr::hours(1);
    EXPECT_EQ(counts().spent, 0);
    EXPECT_TRUE(spend(1'000, 1'000).has_value());
    EXPECT_FALSE(spend(1, 1).has_value());
}

TEST_F(BudgetsTest, ATotalCapNeverResetsAndHasNoRetryAfter) {
    set_user_budget(10, std::nullopt, "total");
    ASSERT_TRUE(spend(10, 10).has_value());
    const auto refused = spend(1, 1);
    ASSERT_FALSE(refused.has_value());
    EXPECT_FALSE(refused.error().retry_after_s);
    EXPECT_FALSE(refused.error().reset_at);
    EXPECT_NE(refused.error().message.find("does not reset"), std::string::npos);
    now_ += chr::days(400);
    EXPECT_FALSE(spend(1, 1).has_value());
}

TEST_F(BudgetsTest, TheKeysCapAppliesBesideTheAccounts) {
    store::ApiKey key;
    key.id = new_uuid_v7();
    key.user_id = user_.id;
    key.name = "k";
    key.prefix = "pk_";
    key.key_sha256 = new_uuid_v7();
    key.scopes = kAllScopes;
    key.created_at = now_;
    ASSERT_TRUE(run_awaitable(store_->create_api_key(key)).has_value());
    ASSERT_TRUE(run_awaitable(store::budget_store(*store_).set_key_budget(
                                  key.id, store::BudgetLimit{100, std::nullopt, "monthly"}
                              ))
                    .value());
    const Principal with_key{user_.id, key.id, kAllScopes, false};
    auto reserve = [&](std::int64_t amount) {
        return run_awaitable(budgets_->reserve(with_key, amount));
    };
    auto held = reserve(100);
    ASSERT_TRUE(held.has_value());
    EXPECT_EQ(held->reserved(), 100);
    const auto refused = reserve(1);
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message.find("API key's monthly budget"), std::string::npos);
    EXPECT_EQ(refused.error().reset_at, "2027-01-01T00:00:00.000Z");
    // The account (no cap) was charged too, and the access token is not limited by the key.
    EXPECT_EQ(counts().reserved, 100);
    EXPECT_TRUE(spend(5, 5).has_value());
    const auto views = run_awaitable(budgets_->status(with_key));
    ASSERT_TRUE(views.has_value());
    ASSERT_EQ(views->size(), 2U);
    EXPECT_EQ((*views)[1].scope, "api_key");
    EXPECT_EQ((*views)[1].limit.max_micros, 100);
    EXPECT_EQ((*views)[1].spend.reserved, 100);
    ASSERT_TRUE(run_awaitable(settled(*budgets_, std::move(*held), 70)));
    const auto after = run_awaitable(budgets_->status(with_key));
    EXPECT_EQ((*after)[1].spend.spent, 70);
    EXPECT_EQ((*after)[1].spend.reserved, 0);
    EXPECT_EQ((*after)[0].spend.spent, 75);
}

TEST_F(BudgetsTest, AHoldDroppedUnsettledReleasesItsReservation) {
    set_user_budget(100, std::nullopt, "total");
    boost::asio::io_context ctx;
    {
        auto hold = run_awaitable(ctx, budgets_->reserve(who(), 100));
        ASSERT_TRUE(hold.has_value());
        EXPECT_EQ(counts().reserved, 100);
    }  // destroyed: the release runs on ctx
    ctx.restart();
    ctx.run();
    EXPECT_EQ(counts().reserved, 0);
    EXPECT_EQ(counts().spent, 0);
    EXPECT_TRUE(spend(100, 100).has_value());
}

TEST_F(BudgetsTest, TheSoftCapWarnsOnceWhenCrossedAndNeverRefuses) {
    set_user_budget(std::nullopt, 100, "total");
    ASSERT_TRUE(spend(60, 60).has_value());
    EXPECT_EQ(soft_warnings_, 0);
    ASSERT_TRUE(spend(60, 60).has_value());
    EXPECT_EQ(soft_warnings_, 1);
    ASSERT_TRUE(spend(60, 60).has_value());
    EXPECT_EQ(soft_warnings_, 1);
}

TEST_F(BudgetsTest, TheFirstRefusalOfAPeriodIsAuditedOnce) {
    set_user_budget(10, std::nullopt, "daily");
    ASSERT_TRUE(spend(10, 10).has_value());
    EXPECT_FALSE(spend(1, 1).has_value());
    EXPECT_FALSE(spend(1, 1).has_value());
    now_ += chr::days(1);
    ASSERT_TRUE(spend(10, 10).has_value());
    EXPECT_FALSE(spend(1, 1).has_value());
    audit_->close();
    store::AuditFilter filter;
    filter.kind = std::string(auth::audit_kind::budget_exceeded);
    const auto events = run_awaitable(store::admin_store(*store_).list_audit_events(filter, 0, 10));
    ASSERT_TRUE(events.has_value());
    ASSERT_EQ(events->total, 2);  // one per day
    EXPECT_EQ(events->items[0].user_id, user_.id);
    EXPECT_NE(events->items[0].detail.find("\"period\":\"daily\""), std::string::npos);
}

}  // namespace
}  // namespace parley::usage
