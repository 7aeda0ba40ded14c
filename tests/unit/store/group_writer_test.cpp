// Group commit on SQLite (store/sqlite/group_writer.hpp): message inserts that wait while a
// transaction is written go in together, in one transaction; a message refused (its conversation
// not there, its id taken) is refused alone, and the others of its batch are stored.
#include "store/sqlite/group_writer.hpp"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "common/ids.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store::sqlite {
namespace {

namespace asio = boost::asio;
using testing::run_awaitable;
using testing::TestDatabase;

constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::December / 3 / 2026} + std::chrono::hours{9};

class GroupWriterTest : public ::testing::Test {
protected:
    void SetUp() override {
        store_ = db_.open(pool_);
        ASSERT_TRUE(store_->migrate().has_value());
        auto seeded = testing::seed_conversation(*store_, kBase);
        ASSERT_TRUE(seeded);
        conversation_ = std::move(*seeded);
    }

    Message message(int k, std::string conversation_id) const {
        Message m;
        m.id = new_uuid_v7();
        m.conversation_id = std::move(conversation_id);
        m.role = k % 2 == 0 ? "user" : "assistant";
        m.content = "message " + std::to_string(k);
        m.created_at = kBase + std::chrono::milliseconds(k);
        return m;
    }

    async::BlockingPool pool_{1};
    TestDatabase db_{testing::Backend::sqlite};
    std::unique_ptr<Store> store_;
    Conversation conversation_;
};

TEST_F(GroupWriterTest, InsertsThatWaitGoInOneTransactionAndARefusalStaysItsOwn) {
    ConnectionPool connections(db_.url().target, 2);
    GroupWriter writer(connections, pool_);
    std::vector<Message> messages;
    for (int k = 0; k < 40; ++k) {
        messages.push_back(message(k, conversation_.id));
    }
    messages[7].conversation_id = "no-such-conversation";
    messages[23].id = messages[22].id;  // taken, by a message of the same batch

    // The pool's one thread is held until every insert waits: the first write then takes them
    // all.
    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    pool_.post([released] { released.wait(); });
    asio::io_context ctx;
    std::vector<std::optional<Result<void>>> results(messages.size());
    for (std::size_t k = 0; k < messages.size(); ++k) {
        asio::co_spawn(
            ctx,
            [&, k]() -> asio::awaitable<void> { results[k] = co_await writer.insert(messages[k]); },
            asio::detached
        );
    }
    ctx.poll();  // every insert has started and waits
    EXPECT_EQ(writer.batches(), 0U);
    release.set_value();
    ctx.run();

    EXPECT_EQ(writer.batches(), 1U);
    for (std::size_t k = 0; k < messages.size(); ++k) {
        ASSERT_TRUE(results[k]) << k;
        if (k == 7) {
            ASSERT_FALSE(*results[k]);
            EXPECT_EQ(results[k]->error().type, ErrorType::not_found);
        } else if (k == 23) {
            ASSERT_FALSE(*results[k]);
            EXPECT_EQ(results[k]->error().type, ErrorType::conflict);
        } else {
            EXPECT_TRUE(*results[k]) << k << ": " << results[k]->error().detail;
        }
    }
    const auto stored = run_awaitable(store_->list_messages(conversation_.id, 0, 100)).value();
    ASSERT_EQ(stored.total, 38);
    for (const auto& m : stored.items) {
        EXPECT_NE(m.content, "message 23");  // its update of the conversation undone too
    }
    // The conversation's active leaf and time are the last stored message's, not the refused
    // one's.
    const auto c = run_awaitable(store_->find_conversation(conversation_.id)).value();
    EXPECT_EQ(c->active_leaf_id, messages[39].id);
    EXPECT_EQ(c->updated_at, messages[39].created_at);

    // Alone, an insert is written at once, in a transaction of its own (without a savepoint):
    // its refusals are the same errors, and leave the conversation as it was.
    const auto alone = message(40, conversation_.id);
    EXPECT_TRUE(run_awaitable(writer.insert(alone)).has_value());
    EXPECT_EQ(writer.batches(), 2U);
    auto taken = message(41, conversation_.id);
    taken.id = alone.id;
    const auto refused = run_awaitable(writer.insert(taken));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().type, ErrorType::conflict);
    auto lost = message(42, "no-such-conversation");
    const auto missing = run_awaitable(writer.insert(lost));
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().type, ErrorType::not_found);
    EXPECT_EQ(writer.batches(), 4U);
    const auto after = run_awaitable(store_->find_conversation(conversation_.id)).value();
    EXPECT_EQ(after->active_leaf_id, alone.id);
    EXPECT_EQ(after->updated_at, alone.created_at);
    EXPECT_EQ(run_awaitable(store_->list_messages(conversation_.id, 0, 100)).value().total, 39);
}

// Any write joins the batch (a turn's budget settle goes in with its answer): it shares the
// transaction with the inserts that wait beside it, and its refusals stay its own, like theirs.
TEST_F(GroupWriterTest, AnyWriteSharesTheBatchAndItsRefusalStaysItsOwn) {
    ConnectionPool connections(db_.url().target, 2);
    GroupWriter writer(connections, pool_);
    const auto first = message(0, conversation_.id);
    const auto second = message(1, conversation_.id);
    const auto retitle = [this](Connection& c) -> Result<void> {
        c.prepare("UPDATE conversations SET title = 'written' WHERE id = ?")
            .bind(1, conversation_.id)
            .step();
        return {};
    };
    // Changes, then breaks a CHECK: its changes go, the batch's others stay.
    const auto broken = [this, &first](Connection& c) -> Result<void> {
        c.prepare("UPDATE conversations SET system_prompt = 'undone' WHERE id = ?")
            .bind(1, conversation_.id)
            .step();
        c.prepare("UPDATE messages SET role = 'nobody' WHERE id = ?").bind(1, first.id).step();
        return {};
    };
    const auto refusing = [](Connection&) -> Result<void> {
        return make_error(ErrorType::conflict, "refused before writing");
    };
    // Writes, then refuses by returning an error: in a batch, its savepoint is rolled back.
    const auto regretful = [this](Connection& c) -> Result<void> {
        c.prepare("UPDATE conversations SET model = 'regretted' WHERE id = ?")
            .bind(1, conversation_.id)
            .step();
        return make_error(ErrorType::conflict, "refused after writing");
    };

    std::promise<void> release;
    std::shared_future<void> released = release.get_future().share();
    pool_.post([released] { released.wait(); });
    asio::io_context ctx;
    std::vector<std::optional<Result<void>>> results(6);
    const auto spawn = [&](std::size_t k, auto write) {
        asio::co_spawn(
            ctx,
            [&results, k, write]() -> asio::awaitable<void> { results[k] = co_await write(); },
            asio::detached
        );
    };
    spawn(0, [&]() { return writer.insert(first); });
    spawn(1, [&]() { return writer.write(retitle); });
    spawn(2, [&]() { return writer.write(broken); });
    spawn(3, [&]() { return writer.write(refusing); });
    spawn(4, [&]() { return writer.insert(second); });
    spawn(5, [&]() { return writer.write(regretful); });
    ctx.poll();
    release.set_value();
    ctx.run();

    EXPECT_EQ(writer.batches(), 1U);
    for (std::size_t k : {0U, 1U, 4U}) {
        ASSERT_TRUE(results[k] && *results[k]) << k;
    }
    ASSERT_TRUE(results[2] && !*results[2]);
    EXPECT_EQ(results[2]->error().type, ErrorType::conflict) << results[2]->error().detail;
    ASSERT_TRUE(results[3] && !*results[3]);
    EXPECT_EQ(results[3]->error().message, "refused before writing");
    ASSERT_TRUE(results[5] && !*results[5]);
    EXPECT_EQ(results[5]->error().message, "refused after writing");
    const auto c = run_awaitable(store_->find_conversation(conversation_.id)).value();
    EXPECT_EQ(c->title, "written");
    EXPECT_NE(c->system_prompt.value_or(""), "undone");
    EXPECT_NE(c->model, "regretted");
    EXPECT_EQ(c->active_leaf_id, second.id);
    const auto stored = run_awaitable(store_->list_messages(conversation_.id, 0, 10)).value();
    ASSERT_EQ(stored.total, 2);
    EXPECT_EQ(stored.items[0].role, "user");

    // Alone (no savepoint), a write's refusals reach it the same way, and one that breaks a CHECK
    // leaves nothing of its changes (the transaction, holding nothing else, is rolled back).
    const auto refused = run_awaitable(writer.write(refusing));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().message, "refused before writing");
    const auto failed = run_awaitable(writer.write(broken));
    ASSERT_FALSE(failed.has_value());
    EXPECT_EQ(failed.error().type, ErrorType::conflict);
    EXPECT_EQ(writer.batches(), 3U);
    const auto after = run_awaitable(store_->find_conversation(conversation_.id)).value();
    EXPECT_NE(after->system_prompt.value_or(""), "undone");
    EXPECT_EQ(
        run_awaitable(store_->list_messages(conversation_.id, 0, 10)).value().items[0].role, "user"
    );
}

// A full-text batch that a group makes due (its newest message 64 seqs past the watermark) is
// indexed after the group's commit, in a transaction of its own, and only the group's answer
// waits for it: the group's other writes resume first. A group without an answer leaves the
// batch for a later one (a user's message is on its answer's way, issue 14).
TEST_F(GroupWriterTest, OnlyTheAnswerWaitsForTheFullTextBatch) {
    ConnectionPool connections(db_.url().target, 2);
    GroupWriter writer(connections, pool_);
    const auto read_int = [&connections](const char* sql) {
        auto lease = connections.acquire();
        auto st = lease->prepare(sql);
        EXPECT_TRUE(st.step()) << sql;
        return st.column_int(0);
    };
    std::atomic<int> resumed_so_far{0};
    // Writes `messages` in one group; the order in which their waiters resumed.
    const auto in_one_group = [&](const std::vector<Message>& messages) {
        resumed_so_far = 0;
        std::promise<void> release;
        std::shared_future<void> released = release.get_future().share();
        pool_.post([released] { released.wait(); });
        asio::io_context ctx;
        std::vector<std::size_t> resumed;
        for (std::size_t k = 0; k < messages.size(); ++k) {
            asio::co_spawn(
                ctx,
                [&, k]() -> asio::awaitable<void> {
                    const auto r = co_await writer.insert(messages[k]);
                    EXPECT_TRUE(r.has_value()) << k << ": " << r.error().detail;
                    resumed.push_back(k);
                    ++resumed_so_far;
                },
                asio::detached
            );
        }
        ctx.poll();
        release.set_value();
        ctx.run();
        return resumed;
    };

    std::vector<Message> asked;
    for (int k = 0; k < 70; ++k) {
        asked.push_back(message(2 * k, conversation_.id));  // even: a user's
    }
    EXPECT_EQ(in_one_group(asked).size(), 70U);
    EXPECT_EQ(read_int("SELECT seq FROM messages_fts_indexed"), 0);

    std::vector<Message> group;
    for (int k : {140, 141, 142, 144}) {  // 141 is an answer
        group.push_back(message(k, conversation_.id));
    }
    // The batch waits (on the pool) until the three others have resumed (on this thread): were
    // it indexed before they resume, it would wait in vain.
    std::atomic<int> batches{0};
    std::atomic<bool> others_first{false};
    writer.on_full_text_batch([&] {
        ++batches;
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (resumed_so_far.load() < 3 && std::chrono::steady_clock::now() < until) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        others_first = resumed_so_far.load() == 3;
    });
    EXPECT_EQ(in_one_group(group), (std::vector<std::size_t>{0, 2, 3, 1}));
    EXPECT_EQ(batches.load(), 1);
    EXPECT_TRUE(others_first.load());
    EXPECT_EQ(writer.batches(), 2U);
    EXPECT_EQ(read_int("SELECT seq FROM messages_fts_indexed"), 74);
    EXPECT_EQ(read_int("SELECT COUNT(*) FROM messages_fts WHERE messages_fts MATCH 'message'"), 74);
}

// A batch whose transaction cannot be written (the database locked by another writer past the
// busy timeout) fails every insert in it, stores none of them, and the writer goes on with the
// next batch once the lock is gone.
TEST_F(GroupWriterTest, ABatchThatCannotBeWrittenFailsWholeAndTheNextIsWritten) {
    ConnectionPool connections(db_.url().target, 1);
    GroupWriter writer(connections, pool_);
    sqlite3* locker = nullptr;
    ASSERT_EQ(sqlite3_open(db_.url().target.c_str(), &locker), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(locker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    const auto refused = message(1, conversation_.id);
    const auto r = run_awaitable(writer.insert(refused));  // waits out the 5 s busy timeout
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().type, ErrorType::overloaded);
    ASSERT_EQ(sqlite3_exec(locker, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(locker);
    const auto next = message(2, conversation_.id);
    EXPECT_TRUE(run_awaitable(writer.insert(next)).has_value());
    const auto stored = run_awaitable(store_->list_messages(conversation_.id, 0, 100)).value();
    ASSERT_EQ(stored.total, 1);
    EXPECT_EQ(stored.items[0].id, next.id);
}

}  // namespace
}  // namespace parley::store::sqlite
