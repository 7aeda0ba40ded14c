// Budgets (issue 16, migration 0007) on every backend, written only against `BudgetStore`:
// caps of accounts and keys, reservations (all or none, never past a cap), settlement, periods
// kept apart, the once-per-period first refusal, and concurrent reservations from several
// threads, each with its own store (its own connections), admitting exactly the cap.
#include "store/budget_store.hpp"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/admin_store.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

using testing::run_awaitable;
using testing::TestDatabase;

// 2026-11-25T00:00:00.000Z and the next day.
constexpr TimePoint kDay1 = std::chrono::sys_days{std::chrono::November / 25 / 2026};
constexpr TimePoint kDay2 = kDay1 + std::chrono::days(1);

class BudgetStoreTest : public ::testing::TestWithParam<testing::Backend> {
protected:
    void SetUp() override {
        db_ = std::make_unique<TestDatabase>(GetParam());
        if (!db_->available()) {
            GTEST_SKIP() << "no PostgreSQL server configured (PARLEY_TEST_DATABASE_URL)";
        }
        store_ = db_->open(pool_);
        ASSERT_NE(store_, nullptr);
        const auto migrated = store_->migrate();
        ASSERT_TRUE(migrated.has_value()) << migrated.error().detail;
        budgets_ = &budget_store(*store_);
        user_ = User{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", kDay1};
        ASSERT_TRUE(run_awaitable(store_->create_user(user_)).has_value());
    }

    void TearDown() override {
        store_.reset();
        db_.reset();
    }

    ApiKey make_key() {
        ApiKey k;
        k.id = new_uuid_v7();
        k.user_id = user_.id;
        k.name = "k";
        k.prefix = "pk_";
        k.key_sha256 = new_uuid_v7();
        k.scopes = 3;
        k.created_at = kDay1;
        EXPECT_TRUE(run_awaitable(store_->create_api_key(k)).has_value());
        return k;
    }

    static BudgetCharge charge(
        std::string subject, TimePoint start, std::optional<std::int64_t> limit, std::int64_t amount
    ) {
        return BudgetCharge{std::move(subject), start, limit, amount};
    }

    BudgetSpend spend(const std::string& subject, TimePoint start) {
        auto s = run_awaitable(budgets_->budget_spend(subject, start));
        EXPECT_TRUE(s.has_value());
        return s ? *s : BudgetSpend{};
    }

    BudgetReservation reserve(std::vector<BudgetCharge> charges) {
        auto r = run_awaitable(budgets_->reserve_budget(std::move(charges), kDay1));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : BudgetReservation{};
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
    BudgetStore* budgets_ = nullptr;
    User user_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    BudgetStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

TEST_P(BudgetStoreTest, NewAccountsAndKeysHaveNoCapOverTheTotalPeriod) {
    const auto user = run_awaitable(budgets_->find_user_budget(user_.id));
    ASSERT_TRUE(user.has_value() && user->has_value());
    EXPECT_FALSE((*user)->max_micros);
    EXPECT_FALSE((*user)->soft_micros);
    EXPECT_EQ((*user)->period, "total");
    const auto key = make_key();
    const auto found = run_awaitable(budgets_->find_key_budget(key.id));
    ASSERT_TRUE(found.has_value() && found->has_value());
    EXPECT_FALSE((*found)->max_micros);
    const auto none = run_awaitable(budgets_->find_key_budget(new_uuid_v7()));
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(none->has_value());
}

TEST_P(BudgetStoreTest, AccountCapIsPartOfItsAccessAndKeyCapsAreSetApart) {
    auto& admin = admin_store(*store_);
    auto access = run_awaitable(admin.find_user_access(user_.id));
    ASSERT_TRUE(access.has_value() && access->has_value());
    UserAccess next = **access;
    next.max_budget_micros = 5'000'000;
    next.soft_budget_micros = 4'000'000;
    next.budget_period = "monthly";
    ASSERT_TRUE(run_awaitable(admin.update_user_access(next)).value());
    const auto user = run_awaitable(budgets_->find_user_budget(user_.id));
    ASSERT_TRUE(user.has_value() && user->has_value());
    EXPECT_EQ((*user)->max_micros, 5'000'000);
    EXPECT_EQ((*user)->soft_micros, 4'000'000);
    EXPECT_EQ((*user)->period, "monthly");

    const auto key = make_key();
    ASSERT_TRUE(
        run_awaitable(budgets_->set_key_budget(key.id, BudgetLimit{7, std::nullopt, "daily"}))
            .value()
    );
    const auto found = run_awaitable(budgets_->find_key_budget(key.id));
    EXPECT_EQ((*found)->max_micros, 7);
    EXPECT_EQ((*found)->period, "daily");
    // A revoked key's cap cannot be changed.
    ASSERT_TRUE(run_awaitable(store_->revoke_api_key(key.id, user_.id, kDay1)).value());
    EXPECT_FALSE(run_awaitable(budgets_->set_key_budget(key.id, BudgetLimit{})).value());
}

TEST_P(BudgetStoreTest, ReservationsStopAtTheCapAndSettleWithTheExactCost) {
    const std::string s = "user:" + user_.id;
    EXPECT_FALSE(reserve({charge(s, kDay1, 100, 40)}).refused);
    EXPECT_FALSE(reserve({charge(s, kDay1, 100, 40)}).refused);
    EXPECT_EQ(spend(s, kDay1).reserved, 80);
    // 80 reserved + 40 > 100: refused, nothing changes.
    const auto refused = reserve({charge(s, kDay1, 100, 40)});
    ASSERT_TRUE(refused.refused);
    EXPECT_EQ(*refused.refused, 0U);
    EXPECT_EQ(refused.spend.reserved, 80);
    EXPECT_EQ(spend(s, kDay1).reserved, 80);
    // Exactly to the cap is allowed.
    EXPECT_FALSE(reserve({charge(s, kDay1, 100, 20)}).refused);

    // Settling releases the reservation and adds the real cost (here less than estimated).
    const auto after = run_awaitable(budgets_->settle_budget({charge(s, kDay1, 100, 40)}, 25));
    ASSERT_TRUE(after.has_value());
    ASSERT_EQ(after->size(), 1U);
    EXPECT_EQ((*after)[0].spent, 25);
    EXPECT_EQ((*after)[0].reserved, 60);
    EXPECT_EQ(spend(s, kDay1).spent, 25);
    EXPECT_EQ(spend(s, kDay1).reserved, 60);
    // 25 + 60 + 15 = 100 fits; 16 more would not.
    EXPECT_FALSE(reserve({charge(s, kDay1, 100, 15)}).refused);
    EXPECT_TRUE(reserve({charge(s, kDay1, 100, 1)}).refused);
}

// Settling needs no reservation before it (spend is counted without a cap): the row is made
// on the way, alone or beside a subject that has one.
TEST_P(BudgetStoreTest, SettlingCreatesTheSpendRowsItNeeds) {
    const std::string u = "user:" + user_.id;
    const std::string k = "key:" + new_uuid_v7();
    auto after = run_awaitable(budgets_->settle_budget({charge(u, kDay1, std::nullopt, 0)}, 7));
    ASSERT_TRUE(after.has_value());
    ASSERT_EQ(after->size(), 1U);
    EXPECT_EQ((*after)[0].spent, 7);
    EXPECT_EQ((*after)[0].reserved, 0);
    EXPECT_EQ(spend(u, kDay1).spent, 7);

    ASSERT_FALSE(reserve({charge(u, kDay1, 100, 30)}).refused);
    after = run_awaitable(
        budgets_->settle_budget({charge(u, kDay1, 100, 30), charge(k, kDay1, 50, 30)}, 12)
    );
    ASSERT_TRUE(after.has_value());
    ASSERT_EQ(after->size(), 2U);
    EXPECT_EQ((*after)[0].spent, 19);
    EXPECT_EQ((*after)[0].reserved, 0);
    EXPECT_EQ((*after)[1].spent, 12);
    EXPECT_EQ((*after)[1].reserved, 0);  // released more than was reserved: never below zero
    EXPECT_EQ(spend(u, kDay1).spent, 19);
    EXPECT_EQ(spend(k, kDay1).spent, 12);
    EXPECT_EQ(spend(k, kDay2).spent, 0);
}

TEST_P(BudgetStoreTest, AReservationOverTwoSubjectsIsAllOrNone) {
    const std::string u = "user:" + user_.id;
    const std::string k = "key:" + new_uuid_v7();
    // The account has room; the key has not: nothing is reserved on either.
    const auto refused = reserve({charge(u, kDay1, 1000, 60), charge(k, kDay1, 50, 60)});
    ASSERT_TRUE(refused.refused);
    EXPECT_EQ(*refused.refused, 1U);
    EXPECT_EQ(spend(u, kDay1).reserved, 0);
    EXPECT_EQ(spend(k, kDay1).reserved, 0);
    EXPECT_FALSE(reserve({charge(u, kDay1, 1000, 50), charge(k, kDay1, 50, 50)}).refused);
    EXPECT_EQ(spend(u, kDay1).reserved, 50);
    EXPECT_EQ(spend(k, kDay1).reserved, 50);
    // No cap: counted, never refused.
    EXPECT_FALSE(reserve({charge(u, kDay1, std::nullopt, 1'000'000)}).refused);
    EXPECT_EQ(spend(u, kDay1).reserved, 1'000'050);
}

TEST_P(BudgetStoreTest, EachPeriodCountsApartAndTheFirstRefusalIsMarkedOncePerPeriod) {
    const std::string s = "user:" + user_.id;
    ASSERT_FALSE(reserve({charge(s, kDay1, 10, 10)}).refused);
    ASSERT_TRUE(run_awaitable(budgets_->settle_budget({charge(s, kDay1, 10, 10)}, 10)).has_value());
    const auto first = reserve({charge(s, kDay1, 10, 1)});
    ASSERT_TRUE(first.refused);
    EXPECT_TRUE(first.first);
    EXPECT_EQ(first.spend.spent, 10);
    const auto second = reserve({charge(s, kDay1, 10, 1)});
    ASSERT_TRUE(second.refused);
    EXPECT_FALSE(second.first);
    // The next day starts from nothing.
    EXPECT_EQ(spend(s, kDay2).spent, 0);
    EXPECT_FALSE(reserve({charge(s, kDay2, 10, 10)}).refused);
    EXPECT_EQ(spend(s, kDay1).spent, 10);
    EXPECT_EQ(spend(s, kDay2).reserved, 10);
    const auto next_day = reserve({charge(s, kDay2, 10, 1)});
    ASSERT_TRUE(next_day.refused);
    EXPECT_TRUE(next_day.first);
}

TEST_P(BudgetStoreTest, ConcurrentReservationsFromSeveralConnectionsAdmitExactlyTheCap) {
    constexpr int kThreads = 6;
    constexpr int kEach = 10;
    constexpr std::int64_t kCap = 25;  // 60 attempts of 1 against a cap of 25
    const std::string s = "user:" + user_.id;
    std::atomic<int> admitted{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&] {
            // A store of its own: its own connections, as another instance would have.
            auto other = db_->open(pool_);
            auto& budgets = budget_store(*other);
            for (int i = 0; i < kEach; ++i) {
                auto r =
                    run_awaitable(budgets.reserve_budget({BudgetCharge{s, kDay1, kCap, 1}}, kDay1));
                if (!r) {
                    ++failed;
                } else if (!r->refused) {
                    ++admitted;
                }
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(admitted.load(), kCap);
    EXPECT_EQ(spend(s, kDay1).reserved, kCap);
}

}  // namespace
}  // namespace parley::store
