// Full-text search and the seed's prompt/response view, written against the `Store` interface
// and run on every backend: SQLite (FTS5, bm25) and PostgreSQL (tsvector, ts_rank_cd) must find
// the same messages and agree on the orders asserted here. Where the two rankings may
// legitimately differ (bm25 weighs document length, ts_rank_cd without normalisation does not),
// the tests assert only what both promise: more occurrences of a term rank higher, ties newest
// first.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/migrations.hpp"
#include "store/store.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

// Runs `sql` on a raw connection to `path`; the error text, if any.
std::string exec_raw(const std::string& path, const std::string& sql) {
    sqlite3* raw = nullptr;
    if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) {
        sqlite3_close(raw);
        return "cannot open " + path;
    }
    char* error = nullptr;
    std::string out;
    if (sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
        out = error != nullptr ? error : "failed";
    }
    sqlite3_free(error);
    sqlite3_close(raw);
    return out;
}

// Column `column` of each row `sql` returns, as text.
std::vector<std::string> column_raw(
    const std::string& path, const std::string& sql, int column = 0
) {
    sqlite3* raw = nullptr;
    std::vector<std::string> out;
    if (sqlite3_open(path.c_str(), &raw) == SQLITE_OK) {
        sqlite3_stmt* st = nullptr;
        if (sqlite3_prepare_v2(raw, sql.c_str(), -1, &st, nullptr) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW) {
                const auto* text = sqlite3_column_text(st, column);
                out.emplace_back(text != nullptr ? reinterpret_cast<const char*>(text) : "");
            }
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(raw);
    return out;
}

// FTS5's integrity check of `table`, with `rank` 1 so that the index is also compared with the
// table it indexes (SQLite 3.40's bare form passes with a row missing from the index); the error
// text, if any.
std::string fts_integrity(const std::string& path, const std::string& table) {
    return exec_raw(
        path, "INSERT INTO " + table + "(" + table + ", rank) VALUES ('integrity-check', 1);"
    );
}

// The SQL that makes a database as the SQLite migrations up to `version` left it, recorded in
// schema_migrations, for the tests of a later migration.
std::string schema_at(int version) {
    std::string sql =
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at TEXT NOT NULL);";
    for (const auto& m : sqlite_migrations()) {
        if (m.version > version) {
            break;
        }
        sql += m.sql;
        sql += ";INSERT INTO schema_migrations VALUES (" + std::to_string(m.version) +
               ", 'old', '2026-01-01T00:00:00.000Z');";
    }
    return sql;
}

using std::chrono::milliseconds;
using testing::run_awaitable;
using testing::TestDatabase;

constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::November / 25 / 2026} + std::chrono::hours{12};

TimePoint at(std::int64_t ms) {
    return kBase + milliseconds(ms);
}

std::vector<std::string> message_ids(const std::vector<MessageHit>& hits) {
    std::vector<std::string> out;
    for (const auto& h : hits) {
        out.push_back(h.message.id);
    }
    return out;
}

class SearchStoreTest : public ::testing::TestWithParam<testing::Backend> {
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

    std::string make_user() {
        User u{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", kBase};
        EXPECT_TRUE(run_awaitable(store_->create_user(u)).has_value());
        return u.id;
    }

    Conversation conversation(const std::string& user, std::optional<std::string> title = {}) {
        Conversation c;
        c.id = new_uuid_v7();
        c.user_id = user;
        c.title = std::move(title);
        c.model = "mock";
        c.created_at = at(++tick_);
        c.updated_at = c.created_at;
        const auto r = run_awaitable(store_->create_conversation(c));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return c;
    }

    Message say(const Conversation& c, std::string role, std::string content) {
        Message m;
        m.id = new_uuid_v7();
        m.conversation_id = c.id;
        m.role = std::move(role);
        m.content = std::move(content);
        m.created_at = at(++tick_ * 10);
        const auto r = run_awaitable(store_->insert_message(m));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return m;
    }

    std::vector<MessageHit> search(
        MessageSearch s, std::int64_t offset = 0, std::int64_t limit = 50
    ) {
        auto r = run_awaitable(store_->search_messages(std::move(s), offset, limit));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : std::vector<MessageHit>{};
    }

    std::vector<MessageHit> search(const std::string& user, std::string_view q) {
        MessageSearch s;
        s.user_id = user;
        s.query = parse_search_query(q);
        return search(std::move(s));
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
    std::int64_t tick_ = 0;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    SearchStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

TEST_P(SearchStoreTest, MoreOccurrencesRankHigherAndStemmingFindsOtherForms) {
    const auto user = make_user();
    const auto c = conversation(user, "Streams");
    const auto once = say(c, "user", "the river keeps its stream of water flowing today");
    const auto thrice =
        say(c, "assistant", "stream after stream: a stream of water, again and again");
    const auto streaming = say(c, "user", "we are streaming logs to the console right now");
    say(c, "assistant", "nothing to see in this message at all, move along");

    const auto hits = search(user, "stream");
    ASSERT_EQ(hits.size(), 3U);
    EXPECT_EQ(hits[0].message.id, thrice.id) << "three occurrences rank above one";
    EXPECT_EQ(
        std::set<std::string>({hits[1].message.id, hits[2].message.id}),
        std::set<std::string>({once.id, streaming.id})
    );
    EXPECT_GT(hits[0].rank, hits[1].rank);
    for (const auto& h : hits) {
        EXPECT_GT(h.rank, 0);
        EXPECT_EQ(h.conversation_title, "Streams");
        EXPECT_NE(h.snippet.find(kMatchStart), std::string::npos) << h.snippet;
        EXPECT_NE(h.snippet.find(kMatchEnd), std::string::npos) << h.snippet;
    }
    EXPECT_EQ(hits[0].message.content, thrice.content);
    EXPECT_EQ(hits[0].message.role, "assistant");
    EXPECT_EQ(hits[0].message.conversation_id, c.id);
    EXPECT_EQ(hits[0].message.created_at, thrice.created_at);
}

TEST_P(SearchStoreTest, PhrasesOrAndExclusions) {
    const auto user = make_user();
    const auto c = conversation(user);
    const auto tool_calling = say(c, "user", "how does tool calling work with parley");
    const auto calling_tool = say(c, "user", "calling the right tool is hard");
    const auto cats = say(c, "user", "my cats sleep all day");
    const auto dogs = say(c, "user", "dogs bark at night");

    EXPECT_EQ(message_ids(search(user, "\"tool calling\"")), std::vector{tool_calling.id});
    EXPECT_EQ(search(user, "tool calling").size(), 2U) << "words: all, in any order";
    EXPECT_EQ(message_ids(search(user, "tool -parley")), std::vector{calling_tool.id});
    const auto either = message_ids(search(user, "cats OR dogs"));
    EXPECT_EQ(
        std::set<std::string>(either.begin(), either.end()),
        std::set<std::string>({cats.id, dogs.id})
    );
    EXPECT_TRUE(search(user, "cats dogs").empty());
    EXPECT_TRUE(search(user, "-cats").empty()) << "exclusions alone find nothing";
    EXPECT_TRUE(search(user, "\"unbalanced").empty());
    EXPECT_TRUE(search(user, "%_%").empty());
}

TEST_P(SearchStoreTest, NobodySeesAnotherUsersMessages) {
    const auto alice = make_user();
    const auto bob = make_user();
    const auto mine = say(conversation(alice), "user", "secret pancake recipe");
    say(conversation(bob), "user", "bob's pancake recipe is also secret");
    EXPECT_EQ(message_ids(search(alice, "pancake")), std::vector{mine.id});
    const auto exchanges =
        run_awaitable(store_->search_exchanges(alice, parse_search_query("pancake"), 0, 10));
    ASSERT_TRUE(exchanges.has_value());
    EXPECT_EQ(exchanges->total, 1);
}

TEST_P(SearchStoreTest, FiltersByConversationRoleTimeAndArchive) {
    const auto user = make_user();
    const auto a = conversation(user);
    auto b = conversation(user);
    const auto a_user = say(a, "user", "kiwi question");
    const auto a_bot = say(a, "assistant", "kiwi answer");
    const auto b_user = say(b, "user", "kiwi elsewhere");

    MessageSearch s;
    s.user_id = user;
    s.query = parse_search_query("kiwi");
    EXPECT_EQ(search(s).size(), 3U);

    auto only_a = s;
    only_a.conversation_id = a.id;
    EXPECT_EQ(search(only_a).size(), 2U);

    auto assistant = s;
    assistant.role = "assistant";
    EXPECT_EQ(message_ids(search(assistant)), std::vector{a_bot.id});

    auto window = s;
    window.from = a_bot.created_at;  // inclusive
    window.to = b_user.created_at;   // exclusive
    EXPECT_EQ(message_ids(search(window)), std::vector{a_bot.id});

    b.is_archived = true;
    b.updated_at = at(1'000'000);
    ASSERT_TRUE(run_awaitable(store_->update_conversation(b)).value());
    EXPECT_EQ(search(s).size(), 2U) << "archived conversations are left out by default";
    auto archived_too = s;
    archived_too.include_archived = true;
    EXPECT_EQ(search(archived_too).size(), 3U);

    // Ties (one occurrence each, same length) are newest first, and pages do not overlap.
    const auto all = search(archived_too);
    EXPECT_EQ(message_ids(all), (std::vector{b_user.id, a_bot.id, a_user.id}));
    EXPECT_EQ(message_ids(search(archived_too, 1, 1)), std::vector{a_bot.id});
}

TEST_P(SearchStoreTest, DeletedConversationsLeaveTheIndex) {
    const auto user = make_user();
    const auto c = conversation(user, "Mango notes");
    say(c, "user", "mango season");
    ASSERT_EQ(search(user, "mango").size(), 1U);
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(c.id)).value());
    EXPECT_TRUE(search(user, "mango").empty());
    ConversationFilter f;
    f.user_id = user;
    f.matching = parse_search_query("mango");
    EXPECT_EQ(run_awaitable(store_->list_conversations(f, 0, 10))->total, 0);
}

TEST_P(SearchStoreTest, ExchangesArePromptAndResponseNewestFirst) {
    const auto user = make_user();
    const auto first = conversation(user);
    say(first, "user", "what is a kiwi");
    say(first, "assistant", "a bird, and a fruit");
    say(first, "user", "which one is green");
    const auto empty = conversation(user);
    const auto second = conversation(user);
    say(second, "user", "kiwi kiwi kiwi");
    conversation(make_user());  // someone else's

    const auto page = run_awaitable(store_->list_exchanges(user, 0, 10));
    ASSERT_TRUE(page.has_value()) << page.error().detail;
    EXPECT_EQ(page->total, 3);
    ASSERT_EQ(page->items.size(), 3U);
    EXPECT_EQ(page->items[0].conversation_id, second.id);
    EXPECT_EQ(page->items[0].response, "");
    EXPECT_EQ(page->items[1].conversation_id, empty.id);
    EXPECT_EQ(page->items[1].prompt, "");
    EXPECT_EQ(page->items[2].prompt, "what is a kiwi");
    EXPECT_EQ(page->items[2].response, "a bird, and a fruit");
    EXPECT_EQ(page->items[2].created_at, first.created_at);
    EXPECT_EQ(page->items[2].user_id, user);

    const auto tail = run_awaitable(store_->list_exchanges(user, 2, 10));
    EXPECT_EQ(tail->total, 3);
    ASSERT_EQ(tail->items.size(), 1U);
    EXPECT_EQ(run_awaitable(store_->list_exchanges(user, 9, 10))->total, 3);

    const auto one = run_awaitable(store_->find_exchange(first.id));
    ASSERT_TRUE(one.has_value() && one->has_value());
    EXPECT_EQ((*one)->prompt, "what is a kiwi");
    EXPECT_FALSE(run_awaitable(store_->find_exchange(new_uuid_v7()))->has_value());

    const auto hits =
        run_awaitable(store_->search_exchanges(user, parse_search_query("kiwi"), 0, 10));
    ASSERT_TRUE(hits.has_value()) << hits.error().detail;
    EXPECT_EQ(hits->total, 2);
    ASSERT_EQ(hits->items.size(), 2U);
    EXPECT_EQ(hits->items[0].exchange.conversation_id, second.id) << "kiwi three times ranks first";
    EXPECT_EQ(hits->items[1].exchange.prompt, "what is a kiwi");
    EXPECT_NE(hits->items[1].snippet.find(kMatchStart), std::string::npos);
    const auto past =
        run_awaitable(store_->search_exchanges(user, parse_search_query("kiwi"), 5, 10));
    EXPECT_EQ(past->total, 2);
    EXPECT_TRUE(past->items.empty());
}

// SQLite indexes inserted rows 64 at a time (migrations 0008 and 0011) and a search indexes the
// rest before it reads: every search sees every committed row, deletes take rows out whether they
// were indexed or still waiting, and a renamed conversation is found by its new title only.
TEST_P(SearchStoreTest, BatchedIndexingMissesNothing) {
    const auto user = make_user();
    auto a = conversation(user, "Quokka diary");
    const auto b = conversation(user, "Wombat diary");
    for (int i = 0; i < 100; ++i) {  // 64 indexed by the 64th insert, 36 waiting
        say(a, "user", "zebra note " + std::to_string(i));
    }
    for (int i = 0; i < 10; ++i) {
        say(b, "user", "zebra wombat " + std::to_string(i));
    }
    MessageSearch s;
    s.user_id = user;
    s.query = parse_search_query("zebra");
    EXPECT_EQ(search(s, 0, 500).size(), 110U);  // indexes the 46 waiting
    for (int i = 10; i < 40; ++i) {             // waiting again
        say(b, "user", "zebra wombat " + std::to_string(i));
    }
    const auto last = say(a, "assistant", "a capybara arrived");  // waiting too

    ASSERT_TRUE(run_awaitable(store_->delete_conversation(b.id)).value());  // 10 indexed, 30 not
    EXPECT_EQ(message_ids(search(user, "capybara")), std::vector{last.id});
    EXPECT_EQ(search(s, 0, 500).size(), 100U);
    EXPECT_TRUE(search(user, "wombat").empty());

    ConversationFilter f;
    f.user_id = user;
    for (const char* title : {"Platypus log", "Echidna log"}) {  // indexed, then waiting
        a.title = title;
        a.updated_at = at(++tick_ * 10);
        ASSERT_TRUE(run_awaitable(store_->update_conversation(a)).value());
    }
    for (const auto& [q, n] : {std::pair{"echidna", 1}, {"platypus", 0}, {"quokka", 0}}) {
        f.matching = parse_search_query(q);
        EXPECT_EQ(run_awaitable(store_->list_conversations(f, 0, 10))->total, n) << q;
        EXPECT_EQ(run_awaitable(store_->list_conversations_after(f, {}, 10))->size(), n) << q;
    }
    const auto more = say(a, "user", "a narwhal question");  // waiting; the list indexes it
    f.matching = parse_search_query("narwhal");
    EXPECT_EQ(run_awaitable(store_->list_conversations(f, 0, 10))->total, 1);
    const auto exchanges =
        run_awaitable(store_->search_exchanges(user, parse_search_query("narwhal"), 0, 10));
    ASSERT_TRUE(exchanges.has_value()) << exchanges.error().detail;
    EXPECT_EQ(exchanges->total, 1);
    EXPECT_EQ(message_ids(search(user, "narwhal")), std::vector{more.id});

    if (GetParam() == testing::Backend::sqlite) {
        EXPECT_EQ(fts_integrity(db_->url().target, "messages_fts"), "");
        EXPECT_EQ(fts_integrity(db_->url().target, "conversations_fts"), "");
    }
}

// Migration 0011's watermark on SQLite: an answer's insert 64 seqs past it indexes the rows above
// it and moves it. Deleting the newest rows gives their seqs out again; the watermark comes down
// with them, or a row given such a seq would count as indexed and no search would ever find it. On
// PostgreSQL the same searches must agree.
TEST_P(SearchStoreTest, ARowGivenAnOldSeqAgainIsFound) {
    const auto user = make_user();
    const auto a = conversation(user, "Savanna");
    const bool sqlite = GetParam() == testing::Backend::sqlite;
    const std::string watermark = "SELECT seq FROM messages_fts_indexed";
    for (int i = 0; i < 70; ++i) {
        say(a, i % 2 == 0 ? "user" : "assistant", "zebra herd " + std::to_string(i));
    }
    if (sqlite) {  // the 64th insert (an answer) indexed the first 64; six wait
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"64"});
    }
    const auto b = conversation(user, "Forest");
    for (int i = 0; i < 5; ++i) {
        say(b, "user", "okapi sighting " + std::to_string(i));
    }
    EXPECT_EQ(search(user, "okapi").size(), 5U);  // indexes the eleven waiting
    if (sqlite) {
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"75"});
    }

    ASSERT_TRUE(run_awaitable(store_->delete_conversation(b.id)).value());  // seqs 71-75
    if (sqlite) {
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"70"});
    }
    const auto again = say(a, "assistant", "a quagga appeared");  // seq 71 again, on SQLite
    const auto next = say(a, "user", "and a second quagga");
    if (sqlite) {
        EXPECT_EQ(
            column_raw(db_->url().target, "SELECT seq FROM messages ORDER BY seq DESC LIMIT 2"),
            (std::vector<std::string>{"72", "71"})
        );
    }
    std::vector<std::string> found = message_ids(search(user, "quagga"));
    std::sort(found.begin(), found.end());
    EXPECT_EQ(found, (std::vector<std::string>{again.id, next.id}));
    EXPECT_TRUE(search(user, "okapi").empty());
    MessageSearch s;
    s.user_id = user;
    s.query = parse_search_query("zebra");
    EXPECT_EQ(search(s, 0, 500).size(), 70U);

    // The row at the watermark goes first (with a), the rows above it after (with d): the second
    // delete must bring the watermark down too, or seq 1, given again below, would count as
    // indexed.
    const auto d = conversation(user, "Marsh");
    say(d, "user", "a heron");  // seqs 73 and 74: above the watermark (72)
    say(d, "user", "another heron");
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(a.id)).value());
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(d.id)).value());
    if (sqlite) {
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"0"});
    }
    const auto e = conversation(user, "Lake");
    const auto ibis = say(e, "user", "an ibis");
    EXPECT_EQ(message_ids(search(user, "ibis")), std::vector{ibis.id});
    EXPECT_TRUE(search(user, "heron").empty());
    EXPECT_TRUE(search(s, 0, 500).empty());
    if (sqlite) {
        EXPECT_EQ(fts_integrity(db_->url().target, "messages_fts"), "");
    }
}

// A user's message never waits for a full-text batch (its answer waits for it): on SQLite the
// rows wait above the watermark however many there are, until an answer's insert indexes them
// all, and a search finds them meanwhile. (PostgreSQL indexes each row as it is written.)
TEST_P(SearchStoreTest, AUsersMessageLeavesTheBatchToTheAnswer) {
    const auto user = make_user();
    const auto a = conversation(user, "Tundra");
    const bool sqlite = GetParam() == testing::Backend::sqlite;
    const std::string watermark = "SELECT seq FROM messages_fts_indexed";
    for (int i = 0; i < 70; ++i) {
        say(a, "user", "caribou herd " + std::to_string(i));
    }
    if (sqlite) {
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"0"});
    }
    say(a, "assistant", "an arctic fox");
    if (sqlite) {
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"71"});
        EXPECT_EQ(
            column_raw(
                db_->url().target,
                "SELECT COUNT(*) FROM messages_fts WHERE messages_fts "
                "MATCH 'caribou OR fox'"
            ),
            std::vector<std::string>{"71"}
        );
    }
    say(a, "user", "a snowy owl");  // waits above the watermark; the search indexes it
    MessageSearch s;
    s.user_id = user;
    s.query = parse_search_query("caribou OR fox OR owl");
    EXPECT_EQ(search(s, 0, 500).size(), 72U);
    if (sqlite) {
        EXPECT_EQ(column_raw(db_->url().target, watermark), std::vector<std::string>{"72"});
        EXPECT_EQ(fts_integrity(db_->url().target, "messages_fts"), "");
    }
}

// An import (insert_conversation_trees: one transaction of many inserts) batches its messages
// for search like any other insert, and a search finds every imported message.
TEST_P(SearchStoreTest, ImportedMessagesAreIndexedInBatchesAndFound) {
    const auto user = make_user();
    ConversationTree tree;
    tree.conversation.id = new_uuid_v7();
    tree.conversation.user_id = user;
    tree.conversation.title = "Imported";
    tree.conversation.model = "mock";
    tree.conversation.created_at = at(1);
    tree.conversation.updated_at = at(1);
    for (int i = 0; i < 100; ++i) {
        Message m;
        m.id = new_uuid_v7();
        m.conversation_id = tree.conversation.id;
        m.role = i % 2 == 0 ? "user" : "assistant";
        m.content = "heron sighting " + std::to_string(i);
        m.created_at = at(10 + i);
        if (i > 0) {
            m.parent_id = tree.messages.back().id;
        }
        tree.messages.push_back(std::move(m));
    }
    tree.conversation.active_leaf_id = tree.messages.back().id;
    ASSERT_TRUE(run_awaitable(store_->insert_conversation_trees({tree})).has_value());
    if (GetParam() == testing::Backend::sqlite) {  // the 64th insert indexed the first 64
        EXPECT_EQ(
            column_raw(db_->url().target, "SELECT seq FROM messages_fts_indexed"),
            std::vector<std::string>{"64"}
        );
    }
    MessageSearch s;
    s.user_id = user;
    s.query = parse_search_query("heron");
    EXPECT_EQ(search(s, 0, 500).size(), 100U);
    if (GetParam() == testing::Backend::sqlite) {
        EXPECT_EQ(fts_integrity(db_->url().target, "messages_fts"), "");
    }
}

// Migration 0011 indexes what waited in 0008's queue, drops the queue, and starts the watermark
// at the newest seq: every row is found and the index is whole. Rows inserted by any other way
// than the store's (here raw SQL) wait above the watermark until a search indexes them, and its
// update trigger keeps the index true to changed texts. (The integrity checks pass `rank` 1: so
// FTS5 also compares the index with the messages table, which SQLite 3.40's bare form does not.)
TEST(SearchWatermarkMigration, IndexesWhatWaitedAndDropsTheQueue) {
    TestDatabase db(testing::Backend::sqlite);
    const std::string path = db.url().target;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    const auto known = sqlite_migrations();
    ASSERT_GE(known.size(), 11U);
    ASSERT_EQ(known[10].version, 11);
    std::string sql = schema_at(10);
    // 70 messages: 64 indexed by 0008's trigger, 6 waiting in its queue.
    const auto insert_notes = [](int from, int to) {
        return "WITH RECURSIVE n(i) AS (SELECT " + std::to_string(from) +
               " UNION ALL SELECT i + 1 FROM n WHERE i < " + std::to_string(to) +
               ") INSERT INTO messages(id, conversation_id, role, content, created_at) SELECT "
               "'m' || i, 'c1', 'user', 'gardening note ' || i, '2026-01-01T00:00:00.000Z' "
               "FROM n;";
    };
    sql +=
        "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u1', 'a@b.co', 'x', "
        "'2026-01-01T00:00:00.000Z');"
        "INSERT INTO conversations(id, user_id, title, model, created_at, updated_at) VALUES "
        "('c1', 'u1', 'Notes', 'm', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');" +
        insert_notes(1, 70);
    ASSERT_EQ(exec_raw(path, sql), "");
    ASSERT_EQ(
        column_raw(path, "SELECT COUNT(*) FROM messages_fts_pending"), std::vector<std::string>{"6"}
    );

    async::BlockingPool pool{1};
    const auto store = db.open(pool);
    const auto applied = store->migrate();
    ASSERT_TRUE(applied.has_value()) << applied.error().detail;
    EXPECT_EQ(*applied, std::vector<int>{11});
    EXPECT_EQ(
        column_raw(path, "SELECT name FROM sqlite_master WHERE name = 'messages_fts_pending'"),
        std::vector<std::string>{}
    );
    const std::string watermark = "SELECT seq FROM messages_fts_indexed";
    EXPECT_EQ(column_raw(path, watermark), std::vector<std::string>{"70"});
    // Indexed by the migration itself: the index is whole before any search runs.
    EXPECT_EQ(fts_integrity(path, "messages_fts"), "");

    ASSERT_EQ(exec_raw(path, insert_notes(71, 80)), "");  // no trigger: they wait
    EXPECT_EQ(column_raw(path, watermark), std::vector<std::string>{"70"});
    // A changed text: an indexed row's old text goes out and its new one in at once; a waiting
    // row's is indexed as it is when its turn comes.
    ASSERT_EQ(
        exec_raw(
            path,
            "UPDATE messages SET content = 'orchid two' WHERE id = 'm2';"
            "UPDATE messages SET content = 'orchid seventy-five' WHERE id = 'm75';"
        ),
        ""
    );
    MessageSearch s;
    s.user_id = "u1";
    s.query = parse_search_query("gardening");
    const auto hits = run_awaitable(store->search_messages(s, 0, 500));
    ASSERT_TRUE(hits.has_value()) << hits.error().detail;
    EXPECT_EQ(hits->size(), 78U);
    EXPECT_EQ(column_raw(path, watermark), std::vector<std::string>{"80"});
    MessageSearch orchids = s;
    orchids.query = parse_search_query("orchid");
    std::vector<std::string> changed;
    for (const auto& hit : run_awaitable(store->search_messages(orchids, 0, 10)).value()) {
        changed.push_back(hit.message.id);
    }
    std::sort(changed.begin(), changed.end());
    EXPECT_EQ(changed, (std::vector<std::string>{"m2", "m75"}));
    // A delete takes an indexed row out at once; deleting the newest lowers the watermark.
    ASSERT_EQ(
        exec_raw(path, "PRAGMA foreign_keys = ON; DELETE FROM messages WHERE id IN ('m1', 'm80');"),
        ""
    );
    EXPECT_EQ(column_raw(path, watermark), std::vector<std::string>{"79"});
    EXPECT_EQ(run_awaitable(store->search_messages(s, 0, 500))->size(), 76U);
    EXPECT_EQ(fts_integrity(path, "messages_fts"), "");
}

// Migration 0002 indexes the messages that were there before it (SQLite: the FTS5 rebuild after
// the tables are rebuilt; PostgreSQL computes generated columns for existing rows by itself).
TEST(SearchMigration, IndexesExistingSqliteMessages) {
    TestDatabase db(testing::Backend::sqlite);
    std::filesystem::create_directories(std::filesystem::path(db.url().target).parent_path());
    {
        std::string sql = schema_at(1);
        sql +=
            "INSERT INTO users VALUES ('u1', 'a@b.co', 'x', '2026-01-01T00:00:00.000Z');"
            "INSERT INTO conversations(id, user_id, title, model, created_at, updated_at) VALUES "
            "('c1', 'u1', 'Old times', 'm', '2026-01-01T00:00:00.000Z', "
            "'2026-01-01T00:00:00.000Z');"
            "INSERT INTO messages(id, conversation_id, role, content, created_at) VALUES ('m1', "
            "'c1', 'user', 'an old message about gardening', '2026-01-01T00:00:00.000Z');";
        ASSERT_EQ(exec_raw(db.url().target, sql), "");
    }
    async::BlockingPool pool{1};
    const auto store = db.open(pool);
    const auto applied = store->migrate();
    ASSERT_TRUE(applied.has_value()) << applied.error().detail;
    EXPECT_EQ(applied->front(), 2);
    MessageSearch s;
    s.user_id = "u1";
    s.query = parse_search_query("garden");
    const auto hits = run_awaitable(store->search_messages(s, 0, 10));
    ASSERT_TRUE(hits.has_value()) << hits.error().detail;
    ASSERT_EQ(hits->size(), 1U);
    EXPECT_EQ(hits->front().message.id, "m1");
    ConversationFilter f;
    f.user_id = "u1";
    f.matching = parse_search_query("old tim");
    EXPECT_EQ(run_awaitable(store->list_conversations(f, 0, 10))->total, 1);
    // The foreign keys survived the rebuild: deleting the user cascades to everything.
    ASSERT_EQ(exec_raw(db.url().target, "PRAGMA foreign_keys = ON; DELETE FROM users;"), "");
    ASSERT_EQ(fts_integrity(db.url().target, "messages_fts"), "");
    EXPECT_TRUE(run_awaitable(store->search_messages(s, 0, 10))->empty());
}

// Migration 0010 rebuilds messages with its role and status CHECKs as OR chains: every row keeps
// its seq (the full-text index and its queue name rows by it), search still finds the rows indexed
// before and the one still queued, the triggers work again, the same rows are refused, and an
// insert no longer builds an ephemeral index per row for the CHECKs.
TEST(MessageChecksMigration, RebuildKeepsRowsIndexTriggersAndRefusals) {
    TestDatabase db(testing::Backend::sqlite);
    const std::string path = db.url().target;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    const auto known = sqlite_migrations();
    ASSERT_GE(known.size(), 10U);
    ASSERT_EQ(known[9].version, 10);
    std::string sql = schema_at(9);
    // 65 messages: the 64th insert indexes the first 64, the 65th waits in the queue.
    sql +=
        "INSERT INTO users(id, email, password_hash, created_at) VALUES ('u1', 'a@b.co', 'x', "
        "'2026-01-01T00:00:00.000Z');"
        "INSERT INTO conversations(id, user_id, title, model, created_at, updated_at) VALUES "
        "('c1', 'u1', 'Notes', 'm', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 65) "
        "INSERT INTO messages(id, conversation_id, role, content, created_at) "
        "SELECT 'm' || i, 'c1', 'user', 'gardening note ' || i, '2026-01-01T00:00:00.000Z' FROM n;";
    ASSERT_EQ(exec_raw(path, sql), "");
    const std::string ids_by_seq = "SELECT seq || ':' || id FROM messages ORDER BY seq";
    const auto before = column_raw(path, ids_by_seq);
    ASSERT_EQ(before.size(), 65U);
    ASSERT_EQ(
        column_raw(path, "SELECT COUNT(*) FROM messages_fts_pending"), std::vector<std::string>{"1"}
    );

    async::BlockingPool pool{1};
    const auto store = db.open(pool);
    const auto applied = store->migrate();
    ASSERT_TRUE(applied.has_value()) << applied.error().detail;
    EXPECT_EQ(*applied, (std::vector<int>{10, 11}));  // and 0011, the queue's watermark
    EXPECT_EQ(column_raw(path, ids_by_seq), before);

    MessageSearch s;
    s.user_id = "u1";
    s.query = parse_search_query("gardening");
    const auto hits = run_awaitable(store->search_messages(s, 0, 100));
    ASSERT_TRUE(hits.has_value()) << hits.error().detail;
    EXPECT_EQ(hits->size(), 65U);

    // The same values refused and accepted as before.
    const std::string row =
        "INSERT INTO messages(id, conversation_id, role, status, content, created_at) VALUES ";
    const std::vector<std::pair<std::string, std::string>> refused = {
        {"('x1', 'c1', 'robot', 'complete', 'a', 'now')", "CHECK constraint failed"},
        {"('x2', 'c1', 'user', 'done', 'a', 'now')", "CHECK constraint failed"},
        {"('x3', 'c1', 'User', 'complete', 'a', 'now')", "CHECK constraint failed"},
        {"('x4', 'c1', NULL, 'complete', 'a', 'now')", "NOT NULL constraint failed"},
    };
    for (const auto& [values, error] : refused) {
        EXPECT_NE(exec_raw(path, row + values).find(error), std::string::npos) << values;
    }
    for (const std::string role : {"user", "assistant", "system", "tool"}) {
        for (const std::string status : {"complete", "partial", "error"}) {
            const std::string values = "('ok-" + role + "-" + status + "', 'c1', '" + role +
                                       "', '" + status + "', 'compost', 'now')";
            EXPECT_EQ(exec_raw(path, row + values), "") << role << " " << status;
        }
    }

    // The triggers made again: a delete takes the row out of the index and counts in the epoch.
    const auto epoch = column_raw(path, "SELECT value FROM message_epoch");
    ASSERT_EQ(
        exec_raw(path, "PRAGMA foreign_keys = ON; DELETE FROM messages WHERE id = 'm1';"), ""
    );
    EXPECT_NE(column_raw(path, "SELECT value FROM message_epoch"), epoch);
    const auto after_delete = run_awaitable(store->search_messages(s, 0, 100));
    ASSERT_TRUE(after_delete.has_value());
    EXPECT_EQ(after_delete->size(), 64U);
    EXPECT_EQ(fts_integrity(path, "messages_fts"), "");
    // The foreign keys survived the rebuild: deleting the user cascades to the messages.
    ASSERT_EQ(exec_raw(path, "PRAGMA foreign_keys = ON; DELETE FROM users;"), "");
    EXPECT_EQ(column_raw(path, "SELECT COUNT(*) FROM messages"), std::vector<std::string>{"0"});

    // What the rebuild is for: the insert's program (opcodes in column 1) has no ephemeral table.
    const auto opcodes = column_raw(
        path,
        "EXPLAIN INSERT INTO messages(id, conversation_id, role, status, content, created_at) "
        "VALUES ('e', 'c1', 'user', 'complete', 'a', 'now')",
        1
    );
    ASSERT_FALSE(opcodes.empty());
    EXPECT_EQ(std::count(opcodes.begin(), opcodes.end(), "OpenEphemeral"), 0);
}

}  // namespace
}  // namespace parley::store
