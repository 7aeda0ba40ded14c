// Conversations, messages and usage statistics, written only against the `Store` interface and
// run on every backend (support/test_database.hpp): SQLite and PostgreSQL must answer alike.
// Every test gets a fresh database of its own.
#include <algorithm>
#include <array>
#include <chrono>
#include <iterator>
#include <map>
#include <set>

#include <gtest/gtest.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

using std::chrono::milliseconds;
using testing::run_awaitable;
using testing::TestDatabase;

// 2026-11-25T12:00:00.000Z
constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::November / 25 / 2026} + std::chrono::hours{12};

TimePoint at(std::int64_t ms) {
    return kBase + milliseconds(ms);
}

// The order every conversation listing promises: updated_at descending, then id descending.
bool newest_first(const Conversation& a, const Conversation& b) {
    if (a.updated_at != b.updated_at) {
        return a.updated_at > b.updated_at;
    }
    return a.id > b.id;
}

bool oldest_first(const Message& a, const Message& b) {
    if (a.created_at != b.created_at) {
        return a.created_at < b.created_at;
    }
    return a.id < b.id;
}

// A filter on the owner only.
ConversationFilter owned_by(const std::string& user_id) {
    ConversationFilter f;
    f.user_id = user_id;
    return f;
}

template <class T>
std::vector<std::string> ids(const std::vector<T>& rows) {
    std::vector<std::string> out;
    out.reserve(rows.size());
    for (const auto& r : rows) {
        out.push_back(r.id);
    }
    return out;
}

void expect_same_conversation(const Conversation& got, const Conversation& want) {
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.user_id, want.user_id);
    EXPECT_EQ(got.title, want.title);
    EXPECT_EQ(got.model, want.model);
    EXPECT_EQ(got.system_prompt, want.system_prompt);
    EXPECT_EQ(got.settings, want.settings);
    EXPECT_EQ(got.metadata, want.metadata);
    EXPECT_EQ(got.is_archived, want.is_archived);
    EXPECT_EQ(got.is_pinned, want.is_pinned);
    EXPECT_EQ(got.summary, want.summary);
    EXPECT_EQ(to_iso8601(got.created_at), to_iso8601(want.created_at));
    EXPECT_EQ(to_iso8601(got.updated_at), to_iso8601(want.updated_at));
    EXPECT_EQ(got.created_at, want.created_at);
    EXPECT_EQ(got.updated_at, want.updated_at);
}

class ConversationStoreTest : public ::testing::TestWithParam<testing::Backend> {
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
    }

    void TearDown() override {
        store_.reset();
        db_.reset();
    }

    std::string make_user() {
        User u{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", kBase};
        const auto r = run_awaitable(store_->create_user(u));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return u.id;
    }

    static Conversation conversation(const std::string& user_id, TimePoint updated_at) {
        Conversation c;
        c.id = new_uuid_v7();
        c.user_id = user_id;
        c.model = "mock-small";
        c.created_at = kBase;
        c.updated_at = updated_at;
        return c;
    }

    Conversation create(Conversation c) {
        const auto r = run_awaitable(store_->create_conversation(c));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return c;
    }

    // `n` conversations of `user_id`, the i-th updated at kBase + updated_ms(i).
    template <class F>
    std::vector<Conversation> create_many(const std::string& user_id, int n, F updated_ms) {
        std::vector<Conversation> out;
        out.reserve(static_cast<std::size_t>(n));
        for (int i = 0; i < n; ++i) {
            out.push_back(create(conversation(user_id, at(updated_ms(i)))));
        }
        return out;
    }

    static Message message(const std::string& conversation_id, TimePoint created_at) {
        Message m;
        m.id = new_uuid_v7();
        m.conversation_id = conversation_id;
        m.role = "user";
        m.content = "hello";
        m.created_at = created_at;
        return m;
    }

    Message insert(Message m) {
        const auto r = run_awaitable(store_->insert_message(m));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return m;
    }

    std::optional<Conversation> find(const std::string& id) {
        auto r = run_awaitable(store_->find_conversation(id));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : std::nullopt;
    }

    Page<Conversation> list(const ConversationFilter& f, std::int64_t offset, std::int64_t limit) {
        auto r = run_awaitable(store_->list_conversations(f, offset, limit));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : Page<Conversation>{};
    }

    std::vector<Conversation> list_after(
        const ConversationFilter& f, const std::optional<ConversationCursor>& after, std::int64_t n
    ) {
        auto r = run_awaitable(store_->list_conversations_after(f, after, n));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : std::vector<Conversation>{};
    }

    // A whole keyset walk from the start, `page_size` at a time. Bounded, so a cursor that does
    // not advance fails the test instead of hanging it.
    std::vector<Conversation> walk(const ConversationFilter& f, std::int64_t page_size) {
        std::vector<Conversation> out;
        std::optional<ConversationCursor> cursor;
        for (int pages = 0; pages < 100; ++pages) {
            const auto page = list_after(f, cursor, page_size);
            if (page.empty()) {
                return out;
            }
            EXPECT_LE(static_cast<std::int64_t>(page.size()), page_size);
            out.insert(out.end(), page.begin(), page.end());
            cursor = ConversationCursor{page.back().updated_at, page.back().id};
        }
        ADD_FAILURE() << "the keyset walk does not end";
        return out;
    }

    bool update(const Conversation& c) {
        const auto r = run_awaitable(store_->update_conversation(c));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r && *r;
    }

    Page<Message> messages(const std::string& conversation_id, std::int64_t off, std::int64_t n) {
        auto r = run_awaitable(store_->list_messages(conversation_id, off, n));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : Page<Message>{};
    }

    UsageStats usage(
        const std::string& user_id,
        std::optional<TimePoint> from = std::nullopt,
        std::optional<TimePoint> to = std::nullopt
    ) {
        auto r = run_awaitable(store_->usage_stats(user_id, from, to));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : UsageStats{};
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    ConversationStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

// --- conversations

TEST_P(ConversationStoreTest, CreateAndFindRoundTripEveryField) {
    const auto user = make_user();
    Conversation full = conversation(user, at(86'400'000 + 999));
    full.title = "Ünïcode title — \"quoted\"";
    full.model = "claude-sonnet";
    full.system_prompt = "Be brief.\nTwo lines.";
    full.settings = R"({"temperature":0.7,"max_tokens":1024,"thinking":{"budget":2048}})";
    full.metadata = R"({"tags":["a","b"],"nested":{"x":null,"emoji":"🙂"}})";
    full.is_archived = true;
    full.is_pinned = true;
    full.summary = "A summary.";
    full.created_at = at(123);
    create(full);

    Conversation bare = conversation(user, at(1));
    bare.created_at = at(1);
    create(bare);  // title, system_prompt and summary null; JSON defaults; both flags false

    const auto got_full = find(full.id);
    ASSERT_TRUE(got_full.has_value());
    expect_same_conversation(*got_full, full);
    EXPECT_EQ(to_iso8601(got_full->created_at), "2026-11-25T12:00:00.123Z");

    const auto got_bare = find(bare.id);
    ASSERT_TRUE(got_bare.has_value());
    expect_same_conversation(*got_bare, bare);
    EXPECT_FALSE(got_bare->title.has_value());
    EXPECT_FALSE(got_bare->system_prompt.has_value());
    EXPECT_FALSE(got_bare->summary.has_value());
    EXPECT_EQ(got_bare->settings, "{}");
    EXPECT_EQ(got_bare->metadata, "{}");
    EXPECT_FALSE(got_bare->is_archived);
    EXPECT_FALSE(got_bare->is_pinned);

    EXPECT_FALSE(find(new_uuid_v7()).has_value());
}

TEST_P(ConversationStoreTest, CreatingAnExistingIdIsAConflict) {
    const auto user = make_user();
    const auto c = create(conversation(user, at(0)));
    const auto again = run_awaitable(store_->create_conversation(c));
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().type, ErrorType::conflict);
}

TEST_P(ConversationStoreTest, ListIsNewestFirstWithIdTiesAndCountsOnlyTheUser) {
    const auto user = make_user();
    const auto other = make_user();
    // Pairs share an updated_at, so ties are broken by id, descending.
    auto convs = create_many(user, 9, [](int i) { return std::int64_t{(i * 7 % 9) / 2} * 1000; });
    create_many(other, 3, [](int i) { return std::int64_t{i} * 1000 + 500; });
    std::sort(convs.begin(), convs.end(), newest_first);

    const auto page = list(owned_by(user), 0, 100);
    EXPECT_EQ(page.total, 9);
    EXPECT_EQ(ids(page.items), ids(convs));

    const auto first_three = list(owned_by(user), 0, 3);
    EXPECT_EQ(first_three.total, 9) << "the total does not depend on the page";
    EXPECT_EQ(ids(first_three.items), ids(std::vector(convs.begin(), convs.begin() + 3)));

    const auto nobody = list(owned_by(make_user()), 0, 10);
    EXPECT_EQ(nobody.total, 0);
    EXPECT_TRUE(nobody.items.empty());
}

TEST_P(ConversationStoreTest, ListFiltersByArchivedModelAndTitle) {
    const auto user = make_user();
    const auto other = make_user();
    std::int64_t tick = 0;
    const auto make = [&](std::optional<std::string> title, std::string model, bool archived) {
        auto c = conversation(user, at(++tick * 1000));
        c.title = std::move(title);
        c.model = std::move(model);
        c.is_archived = archived;
        return create(std::move(c));
    };
    const auto hello = make("Say HELLO world", "alpha", false);
    const auto hello_archived = make("hello again", "beta", true);
    const auto percent = make("100% done", "alpha", false);
    const auto percent_lookalike = make("100 percent done", "alpha", true);
    const auto underscore = make("snake_case names", "beta", false);
    const auto underscore_lookalike = make("snakeXcase names", "beta", false);
    const auto backslash = make("C:\\temp", "alpha", false);
    const auto untitled = make(std::nullopt, "alpha", false);
    auto other_hello = conversation(other, at(50'000));
    other_hello.title = "hello from someone else";
    create(other_hello);

    const auto expect_ids = [&](const ConversationFilter& f, std::vector<Conversation> want) {
        std::sort(want.begin(), want.end(), newest_first);
        const auto page = list(f, 0, 100);
        EXPECT_EQ(page.total, static_cast<std::int64_t>(want.size()));
        EXPECT_EQ(ids(page.items), ids(want));
    };

    auto f = owned_by(user);
    f.archived = true;
    expect_ids(f, {hello_archived, percent_lookalike});
    f.archived = false;
    expect_ids(f, {hello, percent, underscore, underscore_lookalike, backslash, untitled});

    f = owned_by(user);
    f.model = "beta";
    expect_ids(f, {hello_archived, underscore, underscore_lookalike});
    f.archived = false;
    expect_ids(f, {underscore, underscore_lookalike});

    const auto matching = [](std::string_view q) {
        return parse_search_query(q);
    };
    f = owned_by(user);
    f.matching = matching("hElLo");
    expect_ids(f, {hello, hello_archived});
    f.archived = false;
    expect_ids(f, {hello});

    // Words, stemmed, the last one a prefix; punctuation is not a word.
    f = owned_by(user);
    f.matching = matching("100");
    expect_ids(f, {percent, percent_lookalike});
    f.matching = matching("100 perc");
    expect_ids(f, {percent_lookalike});
    f.matching = matching("snake case");
    expect_ids(f, {underscore});
    f.matching = matching("name");
    expect_ids(f, {underscore, underscore_lookalike});
    f.matching = matching("temp");
    expect_ids(f, {backslash});
    // ("again" would not do: PostgreSQL drops English stop words, SQLite does not.)
    f.matching = matching("hello -world");
    expect_ids(f, {hello_archived});
    for (const auto q : {"%", "_", "\\", "", "no such title"}) {
        f.matching = matching(q);
        expect_ids(f, {});
    }

    f = owned_by(user);
    f.model = "alpha";
    f.archived = false;
    f.matching = matching("DONE");
    expect_ids(f, {percent});

    // A conversation also matches through its messages' content.
    auto m = message(untitled.id, at(60'000));
    m.content = "Notes on streaming responses";
    insert(m);
    f = owned_by(user);
    f.matching = matching("stream");
    expect_ids(f, {find(untitled.id).value()});
}

TEST_P(ConversationStoreTest, OffsetPaginationCoversEveryItemExactlyOnce) {
    const auto user = make_user();
    auto convs = create_many(user, 23, [](int i) { return std::int64_t{i / 4} * 1000; });
    std::sort(convs.begin(), convs.end(), newest_first);

    std::vector<std::string> seen;
    for (std::int64_t offset = 0; offset < 23; offset += 5) {
        const auto page = list(owned_by(user), offset, 5);
        EXPECT_EQ(page.total, 23);
        EXPECT_EQ(page.items.size(), offset + 5 <= 23 ? 5U : 3U);
        for (const auto& c : page.items) {
            seen.push_back(c.id);
        }
    }
    EXPECT_EQ(seen, ids(convs));

    const auto past_end = list(owned_by(user), 23, 5);
    EXPECT_EQ(past_end.total, 23);
    EXPECT_TRUE(past_end.items.empty());
    EXPECT_TRUE(list(owned_by(user), 0, 0).items.empty());
}

TEST_P(ConversationStoreTest, KeysetPaginationWalksEveryItemOnceAcrossTies) {
    const auto user = make_user();
    // Groups of three share an updated_at, so page boundaries (every 4) fall inside ties.
    auto convs = create_many(user, 20, [](int i) { return std::int64_t{i / 3} * 1000; });
    std::sort(convs.begin(), convs.end(), newest_first);

    EXPECT_EQ(ids(walk(owned_by(user), 4)), ids(convs));
    EXPECT_EQ(ids(walk(owned_by(user), 3)), ids(convs));
    EXPECT_EQ(ids(walk(owned_by(user), 1)), ids(convs));
    EXPECT_EQ(list_after(owned_by(user), std::nullopt, 100).size(), 20U);
}

TEST_P(ConversationStoreTest, KeysetPaginationIsStableWhileConversationsAreCreatedAndUpdated) {
    const auto user = make_user();
    auto convs = create_many(user, 18, [](int i) { return std::int64_t{i / 2} * 1000; });
    std::sort(convs.begin(), convs.end(), newest_first);
    const auto f = owned_by(user);

    std::vector<Conversation> seen;
    std::set<std::string> moved_ahead;  // updated before the walk reached them
    std::vector<Conversation> created_meanwhile;
    std::optional<ConversationCursor> cursor;
    std::int64_t now = 100'000;
    for (int pages = 0; pages < 20; ++pages) {
        const auto page = list_after(f, cursor, 5);
        if (page.empty()) {
            break;
        }
        seen.insert(seen.end(), page.begin(), page.end());
        cursor = ConversationCursor{page.back().updated_at, page.back().id};

        // Between fetches: a new conversation, an update to one already seen, and activity on
        // (update of, and a message in) ones not reached yet.
        created_meanwhile.push_back(create(conversation(user, at(++now))));
        auto seen_one = seen.front();
        seen_one.title = "renamed after being seen";
        seen_one.updated_at = at(++now);
        ASSERT_TRUE(update(seen_one));

        const auto unseen = std::find_if(convs.rbegin(), convs.rend(), [&](const auto& c) {
            return std::none_of(
                       seen.begin(), seen.end(), [&](const auto& s) { return s.id == c.id; }
                   ) &&
                   !moved_ahead.contains(c.id);
        });
        if (unseen != convs.rend()) {
            moved_ahead.insert(unseen->id);
            if (pages % 2 == 0) {
                auto u = *unseen;
                u.updated_at = at(++now);
                ASSERT_TRUE(update(u));
            } else {
                insert(message(unseen->id, at(++now)));
            }
        }
    }

    // What the keyset contract gives: the original order, each item at most once, minus exactly
    // the conversations that moved ahead of the cursor before it reached them; nothing created
    // meanwhile shows up.
    ASSERT_FALSE(moved_ahead.empty());
    std::vector<std::string> want;
    for (const auto& c : convs) {
        if (!moved_ahead.contains(c.id)) {
            want.push_back(c.id);
        }
    }
    EXPECT_EQ(ids(seen), want);

    // A new walk from the start sees everything once, in the new order.
    const auto fresh = list(owned_by(user), 0, 100);
    EXPECT_EQ(fresh.total, static_cast<std::int64_t>(convs.size() + created_meanwhile.size()));
    auto everything = fresh.items;
    std::sort(everything.begin(), everything.end(), newest_first);
    EXPECT_EQ(ids(fresh.items), ids(everything));
    EXPECT_EQ(ids(walk(f, 7)), ids(fresh.items));
}

TEST_P(ConversationStoreTest, KeysetPaginationAppliesTheFilter) {
    const auto user = make_user();
    auto convs = create_many(user, 12, [](int i) { return std::int64_t{i} * 1000; });
    for (std::size_t i = 0; i < convs.size(); i += 3) {
        convs[i].is_archived = true;
        ASSERT_TRUE(update(convs[i]));
    }
    create_many(make_user(), 4, [](int i) { return std::int64_t{i} * 1000 + 1; });
    std::vector<Conversation> want;
    std::copy_if(convs.begin(), convs.end(), std::back_inserter(want), [](const auto& c) {
        return !c.is_archived;
    });
    std::sort(want.begin(), want.end(), newest_first);

    auto f = owned_by(user);
    f.archived = false;
    EXPECT_EQ(ids(walk(f, 3)), ids(want));
}

TEST_P(ConversationStoreTest, UpdateReplacesTheMutableFieldsOnly) {
    const auto user = make_user();
    Conversation c = conversation(user, at(1000));
    c.title = "before";
    c.system_prompt = "old prompt";
    c.summary = "old summary";
    create(c);

    Conversation changed = c;
    changed.title = std::nullopt;
    changed.model = "other-model";
    changed.system_prompt = std::nullopt;
    changed.settings = R"({"temperature":0})";
    changed.metadata = R"({"k":"v"})";
    changed.is_archived = true;
    changed.is_pinned = true;
    changed.summary = "new summary";
    changed.updated_at = at(5555);
    Conversation attempt = changed;
    attempt.user_id = make_user();  // not mutable: ignored
    attempt.created_at = at(9999);  // not mutable: ignored
    const auto updated = run_awaitable(store_->update_conversation(attempt));
    ASSERT_TRUE(updated.has_value());
    EXPECT_TRUE(*updated);

    const auto got = find(c.id);
    ASSERT_TRUE(got.has_value());
    expect_same_conversation(*got, changed);

    Conversation missing = conversation(user, at(0));
    const auto none = run_awaitable(store_->update_conversation(missing));
    ASSERT_TRUE(none.has_value());
    EXPECT_FALSE(*none);
    EXPECT_FALSE(find(missing.id).has_value()) << "an update never creates";
}

TEST_P(ConversationStoreTest, DeleteCascadesToMessagesAndIsFalseTheSecondTime) {
    const auto user = make_user();
    const auto doomed = create(conversation(user, at(0)));
    const auto kept = create(conversation(user, at(0)));
    for (int i = 0; i < 3; ++i) {
        auto m = message(doomed.id, at(10 + i));
        m.cost_micros = 5;
        insert(m);
        insert(message(kept.id, at(10 + i)));
    }
    ASSERT_EQ(usage(user).message_count, 6);

    const auto first = run_awaitable(store_->delete_conversation(doomed.id));
    ASSERT_TRUE(first.has_value());
    EXPECT_TRUE(*first);
    EXPECT_FALSE(find(doomed.id).has_value());
    const auto gone = messages(doomed.id, 0, 10);
    EXPECT_EQ(gone.total, 0);
    EXPECT_TRUE(gone.items.empty());

    const auto after = usage(user);
    EXPECT_EQ(after.message_count, 3) << "the deleted conversation's messages are gone";
    EXPECT_EQ(after.cost_micros, 0);
    EXPECT_EQ(after.conversation_count, 1);
    EXPECT_EQ(messages(kept.id, 0, 10).total, 3);

    const auto second = run_awaitable(store_->delete_conversation(doomed.id));
    ASSERT_TRUE(second.has_value());
    EXPECT_FALSE(*second);
}

// --- messages

TEST_P(ConversationStoreTest, InsertMessageMovesTheConversationToTheFront) {
    const auto user = make_user();
    const auto quiet = create(conversation(user, at(1000)));
    const auto busy = create(conversation(user, at(2000)));
    EXPECT_EQ(list(owned_by(user), 0, 10).items.front().id, busy.id);

    const auto m = insert(message(quiet.id, at(60'000 + 7)));
    const auto got = find(quiet.id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->updated_at, m.created_at);
    EXPECT_EQ(got->created_at, quiet.created_at);
    EXPECT_EQ(ids(list(owned_by(user), 0, 10).items), (std::vector{quiet.id, busy.id}));
}

TEST_P(ConversationStoreTest, InsertMessageIntoAMissingConversationFailsAndChangesNothing) {
    const auto user = make_user();
    const auto c = create(conversation(user, at(1000)));
    const auto missing = message(new_uuid_v7(), at(5000));
    EXPECT_FALSE(run_awaitable(store_->insert_message(missing)).has_value());
    EXPECT_EQ(find(c.id).value().updated_at, at(1000));
    EXPECT_EQ(usage(user).message_count, 0);

    // A taken message id fails too, and leaves the conversation's updated_at alone.
    const auto first = insert(message(c.id, at(2000)));
    auto duplicate = message(c.id, at(9000));
    duplicate.id = first.id;
    EXPECT_FALSE(run_awaitable(store_->insert_message(duplicate)).has_value());
    EXPECT_EQ(find(c.id).value().updated_at, at(2000)) << "the transaction rolled back";
    EXPECT_EQ(messages(c.id, 0, 10).total, 1);
}

TEST_P(ConversationStoreTest, MessageRoundTripsEveryField) {
    const auto user = make_user();
    const auto c = create(conversation(user, at(0)));
    Message full = message(c.id, at(1234));
    full.role = "assistant";
    full.content = "Ünïcode answer with \"quotes\" and\nnewlines";
    full.thinking = "let me think";
    full.status = "partial";
    full.model = "claude-sonnet";
    full.provider = "anthropic";
    full.finish_reason = "max_tokens";
    full.token_count = 42;
    full.input_tokens = 30;
    full.output_tokens = 12;
    full.cost_micros = 9'007'199'254'740'993;  // 2^53 + 1: no double could hold it
    full.latency_ms = 850;
    full.ttft_ms = 120;
    full.metadata = R"({"tool_calls":[{"name":"x","arguments":"{}"}]})";
    insert(full);
    Message bare = message(c.id, at(1235));
    bare.parent_id = full.id;  // and every other optional null
    insert(bare);

    const auto page = messages(c.id, 0, 10);
    ASSERT_EQ(page.items.size(), 2U);
    testing::expect_same_message(page.items[0], full);
    testing::expect_same_message(page.items[1], bare);
    EXPECT_FALSE(page.items[0].parent_id.has_value());
    EXPECT_FALSE(page.items[1].thinking.has_value());
    EXPECT_FALSE(page.items[1].model.has_value());
    EXPECT_FALSE(page.items[1].latency_ms.has_value());
    EXPECT_EQ(page.items[1].status, "complete");
    EXPECT_EQ(page.items[1].metadata, "{}");
}

TEST_P(ConversationStoreTest, ListMessagesIsOldestFirstWithTotalAndPages) {
    const auto user = make_user();
    const auto c = create(conversation(user, at(0)));
    const auto other = create(conversation(user, at(0)));
    std::vector<Message> all;
    // Inserted out of order, with pairs sharing created_at (ties: id ascending).
    for (const int slot : {5, 0, 3, 1, 4, 2, 5, 0, 3, 1, 4, 2}) {
        all.push_back(insert(message(c.id, at(std::int64_t{slot} * 100))));
        insert(message(other.id, at(std::int64_t{slot} * 100 + 50)));
    }
    std::sort(all.begin(), all.end(), oldest_first);

    std::vector<std::string> seen;
    for (std::int64_t offset = 0; offset < 12; offset += 5) {
        const auto page = messages(c.id, offset, 5);
        EXPECT_EQ(page.total, 12);
        for (const auto& m : page.items) {
            EXPECT_EQ(m.conversation_id, c.id);
            seen.push_back(m.id);
        }
    }
    EXPECT_EQ(seen, ids(all));
    const auto past_end = messages(c.id, 12, 5);
    EXPECT_EQ(past_end.total, 12);
    EXPECT_TRUE(past_end.items.empty());
    EXPECT_EQ(messages(new_uuid_v7(), 0, 5).total, 0);
}

// --- usage

TEST_P(ConversationStoreTest, UsageStatsSumsExactly) {
    const auto user = make_user();
    const auto other = make_user();
    const auto a = create(conversation(user, at(0)));
    const auto b = create(conversation(user, at(0)));
    create(conversation(user, at(0)));  // no messages: still counted
    const auto foreign = create(conversation(other, at(0)));

    const std::array<std::int64_t, 3> costs = {1, 3, 7};
    const std::array<std::optional<std::string>, 4> models = {
        "model-b", "model-a", std::nullopt, "model-c"};
    std::map<std::string, UsageRow> by_model;
    std::map<std::string, UsageRow> by_day;
    UsageRow total;
    const auto add = [](UsageRow& row, const Message& m) {
        ++row.message_count;
        row.input_tokens += m.input_tokens;
        row.output_tokens += m.output_tokens;
        row.cost_micros += m.cost_micros;
    };
    for (int i = 0; i < 2000; ++i) {
        // Spread over three UTC days, a few minutes before and after midnight.
        auto m = message(i % 2 == 0 ? a.id : b.id, at(std::int64_t{i} * 130'001));
        m.role = "assistant";
        m.model = models[i % 4];
        m.input_tokens = i % 11;
        m.output_tokens = std::int64_t{2} * (i % 13);
        m.cost_micros = costs[i % 3];
        insert(m);
        add(total, m);
        if (m.model) {
            add(by_model[*m.model], m);
        }
        add(by_day[to_iso8601(m.created_at).substr(0, 10)], m);
    }
    auto big = message(b.id, at(1));
    big.model = "model-a";
    big.cost_micros = 9'007'199'254'740'993;  // exact only in integer arithmetic
    insert(big);
    add(total, big);
    add(by_model["model-a"], big);
    add(by_day["2026-11-25"], big);
    for (int i = 0; i < 10; ++i) {
        auto m = message(foreign.id, at(i));
        m.model = "model-a";
        m.input_tokens = 1000;
        m.cost_micros = 1000;
        insert(m);
    }

    const auto s = usage(user);
    EXPECT_EQ(s.conversation_count, 3);
    EXPECT_EQ(s.message_count, 2001);
    EXPECT_EQ(s.input_tokens, total.input_tokens);
    EXPECT_EQ(s.output_tokens, total.output_tokens);
    EXPECT_EQ(s.cost_micros, total.cost_micros);
    // 2^53 + 1, plus 667 × 1 + 667 × 3 + 666 × 7.
    EXPECT_EQ(s.cost_micros, 9'007'199'254'740'993 + 7'330);

    // By model: cost descending, then name.
    std::vector<std::pair<std::string, UsageRow>> want_models(by_model.begin(), by_model.end());
    std::stable_sort(want_models.begin(), want_models.end(), [](const auto& x, const auto& y) {
        return x.second.cost_micros > y.second.cost_micros;
    });
    ASSERT_EQ(s.by_model.size(), want_models.size());
    for (std::size_t i = 0; i < want_models.size(); ++i) {
        const auto& [key, want] = want_models[i];
        const auto& got = s.by_model[i];
        EXPECT_EQ(got.key, key);
        EXPECT_EQ(got.message_count, want.message_count) << key;
        EXPECT_EQ(got.input_tokens, want.input_tokens) << key;
        EXPECT_EQ(got.output_tokens, want.output_tokens) << key;
        EXPECT_EQ(got.cost_micros, want.cost_micros) << key;
    }

    // By day, ascending.
    ASSERT_EQ(s.by_day.size(), 4U) << "2000 messages 130 s apart span four UTC days";
    ASSERT_EQ(s.by_day.size(), by_day.size());
    auto want_day = by_day.begin();
    for (const auto& got : s.by_day) {
        EXPECT_EQ(got.key, want_day->first);
        EXPECT_EQ(got.message_count, want_day->second.message_count) << got.key;
        EXPECT_EQ(got.input_tokens, want_day->second.input_tokens) << got.key;
        EXPECT_EQ(got.output_tokens, want_day->second.output_tokens) << got.key;
        EXPECT_EQ(got.cost_micros, want_day->second.cost_micros) << got.key;
        ++want_day;
    }

    const auto foreign_stats = usage(other);
    EXPECT_EQ(foreign_stats.conversation_count, 1);
    EXPECT_EQ(foreign_stats.message_count, 10);
    EXPECT_EQ(foreign_stats.cost_micros, 10'000);
}

TEST_P(ConversationStoreTest, UsageStatsByModelTiesAreOrderedByName) {
    const auto user = make_user();
    const auto c = create(conversation(user, at(0)));
    for (const char* model : {"zeta", "alpha", "mid", "alpha"}) {
        auto m = message(c.id, at(0));
        m.model = model;
        m.cost_micros = std::string_view(model) == "mid" ? 10 : 5;
        insert(m);
    }
    const auto s = usage(user);
    ASSERT_EQ(s.by_model.size(), 3U);
    EXPECT_EQ(s.by_model[0].key, "alpha");  // 10, and before "mid" by name
    EXPECT_EQ(s.by_model[0].message_count, 2);
    EXPECT_EQ(s.by_model[1].key, "mid");
    EXPECT_EQ(s.by_model[2].key, "zeta");
}

TEST_P(ConversationStoreTest, UsageStatsHonoursFromInclusiveAndToExclusive) {
    const auto user = make_user();
    const auto c = create(conversation(user, at(0)));
    create(conversation(user, at(0)));
    const auto day = std::int64_t{86'400'000};
    // 23:59:59.999 on the 25th, midnight on the 26th, and so on.
    const std::array<std::int64_t, 5> times = {
        day / 2 - 1, day / 2, day / 2 + 1, day + day / 2, 2 * day};
    for (std::size_t i = 0; i < times.size(); ++i) {
        auto m = message(c.id, at(times[i]));
        m.cost_micros = std::int64_t{1} << i;
        m.model = "m";
        insert(m);
    }

    const auto from_midnight = usage(user, at(day / 2), std::nullopt);
    EXPECT_EQ(from_midnight.message_count, 4);
    EXPECT_EQ(from_midnight.cost_micros, 2 + 4 + 8 + 16);
    EXPECT_EQ(from_midnight.conversation_count, 2) << "not bounded by time";

    const auto until_midnight = usage(user, std::nullopt, at(day / 2));
    EXPECT_EQ(until_midnight.message_count, 1);
    EXPECT_EQ(until_midnight.cost_micros, 1);
    ASSERT_EQ(until_midnight.by_day.size(), 1U);
    EXPECT_EQ(until_midnight.by_day[0].key, "2026-11-25");

    const auto window = usage(user, at(day / 2), at(2 * day));
    EXPECT_EQ(window.message_count, 3);
    EXPECT_EQ(window.cost_micros, 2 + 4 + 8);
    ASSERT_EQ(window.by_day.size(), 2U);
    EXPECT_EQ(window.by_day[0].key, "2026-11-26");
    EXPECT_EQ(window.by_day[0].message_count, 2);
    EXPECT_EQ(window.by_day[0].cost_micros, 2 + 4);
    EXPECT_EQ(window.by_day[1].key, "2026-11-27");
    EXPECT_EQ(window.by_day[1].cost_micros, 8);
    ASSERT_EQ(window.by_model.size(), 1U);
    EXPECT_EQ(window.by_model[0].cost_micros, 2 + 4 + 8);

    const auto empty = usage(user, at(day), at(day));
    EXPECT_EQ(empty.message_count, 0);
    EXPECT_EQ(empty.cost_micros, 0);
    EXPECT_TRUE(empty.by_day.empty());
    EXPECT_TRUE(empty.by_model.empty());
}

TEST_P(ConversationStoreTest, UsageStatsOfAUserWithNothingAreZeros) {
    const auto busy = make_user();
    const auto c = create(conversation(busy, at(0)));
    auto m = message(c.id, at(0));
    m.model = "m";
    m.cost_micros = 3;
    insert(m);

    const auto s = usage(make_user());
    EXPECT_EQ(s.conversation_count, 0);
    EXPECT_EQ(s.message_count, 0);
    EXPECT_EQ(s.input_tokens, 0);
    EXPECT_EQ(s.output_tokens, 0);
    EXPECT_EQ(s.cost_micros, 0);
    EXPECT_TRUE(s.by_model.empty());
    EXPECT_TRUE(s.by_day.empty());

    const auto unknown = usage(new_uuid_v7());
    EXPECT_EQ(unknown.conversation_count, 0);
    EXPECT_EQ(unknown.message_count, 0);
}

// Model calls that store no message (usage_records) count with the messages: in the totals, by
// model (merged with the messages of the same model), by day, and by key (messages under none).
TEST_P(ConversationStoreTest, UsageRecordsCountWithMessagesByModelDayAndKey) {
    const auto user = make_user();
    const auto other = make_user();
    ApiKey key;
    key.id = new_uuid_v7();
    key.user_id = user;
    key.name = "sdk";
    key.prefix = "prly_abcdefg";
    key.key_sha256 = new_uuid_v7();
    key.scopes = 3U;
    key.created_at = kBase;
    ASSERT_TRUE(run_awaitable(store_->create_api_key(key)).has_value());

    const auto c = create(conversation(user, at(0)));
    auto m = message(c.id, at(0));
    m.role = "assistant";
    m.model = "model-a";
    m.input_tokens = 10;
    m.output_tokens = 20;
    m.cost_micros = 30;
    insert(m);

    const auto record = [&](const std::string& who,
                            std::optional<std::string> key_id,
                            std::string model,
                            std::int64_t in,
                            std::int64_t out,
                            std::int64_t cost,
                            TimePoint when) {
        UsageRecord r;
        r.id = new_uuid_v7();
        r.user_id = who;
        r.api_key_id = std::move(key_id);
        r.kind = "compat_chat";
        r.model = std::move(model);
        r.provider = "openai";
        r.input_tokens = in;
        r.output_tokens = out;
        r.cost_micros = cost;
        r.created_at = when;
        const auto inserted = run_awaitable(store_->insert_usage_record(r));
        ASSERT_TRUE(inserted.has_value()) << inserted.error().detail;
    };
    record(user, key.id, "model-a", 1, 2, 3, at(1));
    record(user, key.id, "model-b", 100, 200, 9'007'199'254'740'993, at(86'400'000));
    record(user, std::nullopt, "model-b", 5, 6, 7, at(2));
    record(other, std::nullopt, "model-a", 1000, 1000, 1000, at(3));

    const auto s = usage(user);
    EXPECT_EQ(s.conversation_count, 1);
    EXPECT_EQ(s.message_count, 1);
    EXPECT_EQ(s.call_count, 3);
    EXPECT_EQ(s.input_tokens, 10 + 1 + 100 + 5);
    EXPECT_EQ(s.output_tokens, 20 + 2 + 200 + 6);
    EXPECT_EQ(s.cost_micros, 30 + 3 + 9'007'199'254'740'993 + 7);

    ASSERT_EQ(s.by_model.size(), 2U);
    EXPECT_EQ(s.by_model[0].key, "model-b");  // costliest first
    EXPECT_EQ(s.by_model[0].message_count, 0);
    EXPECT_EQ(s.by_model[0].call_count, 2);
    EXPECT_EQ(s.by_model[0].cost_micros, 9'007'199'254'740'993 + 7);
    EXPECT_EQ(s.by_model[1].key, "model-a");
    EXPECT_EQ(s.by_model[1].message_count, 1);
    EXPECT_EQ(s.by_model[1].call_count, 1);
    EXPECT_EQ(s.by_model[1].input_tokens, 11);

    ASSERT_EQ(s.by_day.size(), 2U);
    EXPECT_EQ(s.by_day[0].key, "2026-11-25");
    EXPECT_EQ(s.by_day[0].call_count, 2);
    EXPECT_EQ(s.by_day[0].message_count, 1);
    EXPECT_EQ(s.by_day[1].key, "2026-11-26");
    EXPECT_EQ(s.by_day[1].call_count, 1);

    ASSERT_EQ(s.by_key.size(), 2U);
    EXPECT_EQ(s.by_key[0].key, "");  // no key: the message and the access-token call
    EXPECT_EQ(s.by_key[0].message_count, 1);
    EXPECT_EQ(s.by_key[0].call_count, 1);
    EXPECT_EQ(s.by_key[0].cost_micros, 37);
    EXPECT_EQ(s.by_key[1].key, key.id);
    EXPECT_EQ(s.by_key[1].call_count, 2);
    EXPECT_EQ(s.by_key[1].input_tokens, 101);

    // The period applies to the records as to the messages.
    const auto first_day = usage(user, at(0), at(86'400'000));
    EXPECT_EQ(first_day.call_count, 2);
    EXPECT_EQ(first_day.cost_micros, 30 + 3 + 7);
    const auto second_day = usage(user, at(86'400'000), std::nullopt);
    EXPECT_EQ(second_day.message_count, 0);
    EXPECT_EQ(second_day.call_count, 1);
    ASSERT_EQ(second_day.by_key.size(), 1U);
    EXPECT_EQ(second_day.by_key[0].key, key.id);

    const auto theirs = usage(other);
    EXPECT_EQ(theirs.call_count, 1);
    EXPECT_EQ(theirs.cost_micros, 1000);
}

TEST_P(ConversationStoreTest, AUsageRecordOfAnUnknownUserIsRefused) {
    UsageRecord r;
    r.id = new_uuid_v7();
    r.user_id = new_uuid_v7();
    r.kind = "compat_chat";
    r.model = "m";
    r.provider = "mock";
    r.created_at = kBase;
    EXPECT_FALSE(run_awaitable(store_->insert_usage_record(r)).has_value());
}

}  // namespace
}  // namespace parley::store
