// The message tree (migration 0006) on every backend: branches read by walking parent_id, sibling
// counts and positions, the newest leaf below a message, the active leaf, and a conversation
// written whole or not at all.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "async/blocking_pool.hpp"
#include "common/ids.hpp"
#include "store/migrations.hpp"
#include "store/sqlite/sqlite_store_impl.hpp"
#include "store/store.hpp"
#include "store/tree_walk.hpp"
#include "support/run_awaitable.hpp"
#include "support/test_database.hpp"

namespace parley::store {
namespace {

using testing::run_awaitable;
using testing::TestDatabase;

constexpr TimePoint kBase =
    std::chrono::sys_days{std::chrono::December / 2 / 2026} + std::chrono::hours{9};

class TreeStoreTest : public ::testing::TestWithParam<testing::Backend> {
protected:
    void SetUp() override {
        db_ = std::make_unique<TestDatabase>(GetParam());
        if (!db_->available()) {
            GTEST_SKIP() << "no PostgreSQL server configured (PARLEY_TEST_DATABASE_URL)";
        }
        store_ = db_->open(pool_);
        ASSERT_TRUE(store_->migrate().has_value());
        auto seeded = testing::seed_conversation(*store_, kBase);
        ASSERT_TRUE(seeded);
        conversation_ = std::move(*seeded);
    }

    // Inserts a message `ms` milliseconds after the base time; returns its id.
    std::string add(std::string role, std::optional<std::string> parent, int ms) {
        Message m;
        m.id = new_uuid_v7();
        m.conversation_id = conversation_.id;
        m.parent_id = std::move(parent);
        m.role = std::move(role);
        m.content = "message at " + std::to_string(ms);
        m.created_at = kBase + std::chrono::milliseconds(ms);
        EXPECT_TRUE(run_awaitable(store_->insert_message(m)).has_value());
        return m.id;
    }

    std::vector<PathMessage> path(std::optional<std::string> leaf, std::int64_t limit = 100) {
        auto r = run_awaitable(store_->message_path(conversation_.id, std::move(leaf), limit));
        EXPECT_TRUE(r.has_value()) << r.error().detail;
        return r ? *r : std::vector<PathMessage>{};
    }

    static std::vector<std::string> ids(const std::vector<PathMessage>& p) {
        std::vector<std::string> out;
        for (const auto& m : p) {
            out.push_back(m.message->id);
        }
        return out;
    }

    std::optional<std::string> active_leaf() {
        return run_awaitable(store_->find_conversation(conversation_.id)).value()->active_leaf_id;
    }

    async::BlockingPool pool_{2};
    std::unique_ptr<TestDatabase> db_;
    std::unique_ptr<Store> store_;
    Conversation conversation_;
};

INSTANTIATE_TEST_SUITE_P(
    Backends,
    TreeStoreTest,
    ::testing::ValuesIn(testing::all_backends()),
    testing::backend_param_name
);

// u1 ─ a1 ─ u2 ─ a2
//         └─ u2b ─ a2b, a2c   (an edit of u2, and a regeneration of its answer)
TEST_P(TreeStoreTest, BranchesSiblingsAndTheActiveLeaf) {
    EXPECT_FALSE(active_leaf());
    EXPECT_TRUE(path(std::nullopt).empty());
    const auto u1 = add("user", std::nullopt, 0);
    const auto a1 = add("assistant", u1, 1);
    const auto u2 = add("user", a1, 2);
    const auto a2 = add("assistant", u2, 3);
    EXPECT_EQ(active_leaf(), a2);
    const auto u2b = add("user", a1, 4);
    const auto a2b = add("assistant", u2b, 5);
    const auto a2c = add("assistant", u2b, 6);
    EXPECT_EQ(active_leaf(), a2c);  // each new message becomes the active leaf

    const auto active = path(std::nullopt);
    EXPECT_EQ(ids(active), (std::vector<std::string>{u1, a1, u2b, a2c}));
    EXPECT_EQ(active[0].sibling_count, 1);
    EXPECT_EQ(active[2].sibling_count, 2);
    EXPECT_EQ(active[2].sibling_index, 1);
    EXPECT_EQ(active[3].sibling_count, 2);
    EXPECT_EQ(active[3].sibling_index, 1);
    EXPECT_EQ(active[3].message->content, "message at 6");

    const auto old = path(a2);
    EXPECT_EQ(ids(old), (std::vector<std::string>{u1, a1, u2, a2}));
    EXPECT_EQ(old[2].sibling_index, 0);
    EXPECT_EQ(old[3].sibling_count, 1);
    // The newest messages of a long branch when it is cut.
    EXPECT_EQ(ids(path(a2b, 2)), (std::vector<std::string>{u2b, a2b}));

    // The newest leaf below a message; a leaf is its own.
    EXPECT_EQ(run_awaitable(store_->branch_leaf(conversation_.id, u2)).value(), a2);
    EXPECT_EQ(run_awaitable(store_->branch_leaf(conversation_.id, u1)).value(), a2c);
    EXPECT_EQ(run_awaitable(store_->branch_leaf(conversation_.id, a2b)).value(), a2b);
    EXPECT_FALSE(run_awaitable(store_->branch_leaf(conversation_.id, "nope")).value());

    ASSERT_TRUE(run_awaitable(store_->set_active_leaf(conversation_.id, a2)).value());
    EXPECT_EQ(active_leaf(), a2);
    EXPECT_EQ(ids(path(std::nullopt)), (std::vector<std::string>{u1, a1, u2, a2}));
}

// A model's context reads the same branch without the two sibling subqueries a message.
TEST_P(TreeStoreTest, APathReadWithoutSiblingsHasTheSameMessages) {
    const auto u1 = add("user", std::nullopt, 0);
    const auto a1 = add("assistant", u1, 1);
    const auto a1b = add("assistant", u1, 2);  // a regeneration: a1's sibling, now the leaf
    const auto counted = path(a1b);
    ASSERT_EQ(ids(counted), (std::vector<std::string>{u1, a1b}));
    EXPECT_EQ(counted[1].sibling_count, 2);
    EXPECT_EQ(counted[1].sibling_index, 1);
    for (const std::optional<std::string>& leaf :
         {std::optional<std::string>(), std::optional(a1)}) {
        const auto with = path(leaf);
        const auto without =
            run_awaitable(store_->message_path(conversation_.id, leaf, 100, Siblings::skipped))
                .value();
        ASSERT_EQ(ids(without), ids(with));
        for (std::size_t i = 0; i < without.size(); ++i) {
            EXPECT_EQ(without[i].message->content, with[i].message->content);
            EXPECT_EQ(without[i].sibling_count, 1);
            EXPECT_EQ(without[i].sibling_index, 0);
        }
    }
}

// Roots are each other's siblings (another conversation's roots are not); equal times are
// ordered by id (bytes); a branch cut short still counts the siblings of its first message.
TEST_P(TreeStoreTest, SiblingCountsOfRootsTiesAndACutBranch) {
    Conversation other = conversation_;
    other.id = new_uuid_v7();
    ASSERT_TRUE(run_awaitable(store_->create_conversation(other)).has_value());
    const auto insert = [&](const std::string& id,
                            const std::string& conversation,
                            std::optional<std::string> parent,
                            int ms) {
        Message m;
        m.id = id;
        m.conversation_id = conversation;
        m.parent_id = std::move(parent);
        m.role = "user";
        m.content = "message " + id;
        m.created_at = kBase + std::chrono::milliseconds(ms);
        ASSERT_TRUE(run_awaitable(store_->insert_message(m)).has_value());
    };
    const auto base = new_uuid_v7();
    const auto r1 = base + "-r1";
    const auto r2a = base + "-r2-a";
    const auto r2b = base + "-r2-b";
    const auto c1 = base + "-c1";
    const auto c2a = base + "-c2-a";
    const auto c2b = base + "-c2-b";
    const auto d = base + "-d";
    insert(r1, conversation_.id, std::nullopt, 0);
    insert(base + "-other-root", other.id, std::nullopt, 1);
    insert(r2b, conversation_.id, std::nullopt, 5);  // the same time as r2a, inserted first
    insert(r2a, conversation_.id, std::nullopt, 5);
    insert(c1, conversation_.id, r2b, 6);
    insert(c2b, conversation_.id, c1, 7);
    insert(c2a, conversation_.id, c1, 7);
    insert(d, conversation_.id, c2b, 8);

    const auto full = path(d);
    ASSERT_EQ(ids(full), (std::vector<std::string>{r2b, c1, c2b, d}));
    const std::vector<std::pair<std::int64_t, std::int64_t>> expected{
        {3, 2}, {1, 0}, {2, 1}, {1, 0}};
    for (std::size_t i = 0; i < full.size(); ++i) {
        EXPECT_EQ(full[i].sibling_count, expected[i].first) << full[i].message->id;
        EXPECT_EQ(full[i].sibling_index, expected[i].second) << full[i].message->id;
    }
    const auto cut = path(d, 2);
    ASSERT_EQ(ids(cut), (std::vector<std::string>{c2b, d}));
    EXPECT_EQ(cut[0].sibling_count, 2);
    EXPECT_EQ(cut[0].sibling_index, 1);
    const auto roots = path(r2a);
    ASSERT_EQ(ids(roots), (std::vector<std::string>{r2a}));
    EXPECT_EQ(roots[0].sibling_count, 3);
    EXPECT_EQ(roots[0].sibling_index, 1);
    const auto first = path(r1);
    ASSERT_EQ(ids(first), (std::vector<std::string>{r1}));
    EXPECT_EQ(first[0].sibling_count, 3);
    EXPECT_EQ(first[0].sibling_index, 0);
    const auto elsewhere = run_awaitable(store_->message_path(other.id, std::nullopt, 10)).value();
    ASSERT_EQ(elsewhere.size(), 1U);
    EXPECT_EQ(elsewhere[0].sibling_count, 1);
}

// Random trees, small (the SQLite store finds the branch in memory from one scan) and large
// (past kWalkInMemory: the recursive walk), against a model of the rules: the leaf and its
// ancestors, the newest `limit` of them, oldest first; siblings share a parent (roots: none) and
// are ordered by created_at, then id. Many equal timestamps, ids not in insertion order.
TEST_P(TreeStoreTest, BranchesOfSmallAndLargeTreesMatchTheRules) {
    std::mt19937 random(14);
    for (const int size : {40, 300}) {
        Conversation c = conversation_;
        c.id = new_uuid_v7();
        std::vector<Message> messages(static_cast<std::size_t>(size));
        for (int i = 0; i < size; ++i) {
            auto& m = messages[static_cast<std::size_t>(i)];
            // Fixed width, so that a locale's collation orders them as bytes do.
            std::array<char, 16> id{};
            std::snprintf(
                id.data(), id.size(), "%08x-%04d", static_cast<unsigned>(random() % 4096), i
            );
            m.id = id.data();
            m.conversation_id = c.id;
            m.role = i % 2 == 0 ? "user" : "assistant";
            m.content = "message " + std::to_string(i);
            m.created_at = kBase + std::chrono::milliseconds(i / 4);  // ties
            const auto pick = random() % 10;
            if (i > 0 && pick < 6) {
                m.parent_id = messages[static_cast<std::size_t>(i - 1)].id;  // a chain
            } else if (i > 0 && pick < 9) {
                m.parent_id = messages[random() % static_cast<std::size_t>(i)].id;  // a branch
            }                                                                       // else a root
        }
        c.active_leaf_id = messages[static_cast<std::size_t>(size / 2)].id;
        ASSERT_TRUE(run_awaitable(store_->insert_conversation_trees({{c, messages}})).has_value());
        std::map<std::string, const Message*> by_id;
        for (const auto& m : messages) {
            by_id[m.id] = &m;
        }
        const auto expected = [&](const std::string& leaf, std::int64_t limit) {
            std::vector<PathMessage> out;
            for (const Message* m = by_id.at(leaf); m != nullptr;) {
                PathMessage p;
                p.message = std::make_shared<const Message>(*m);
                std::vector<const Message*> siblings;
                for (const auto& s : messages) {
                    if (s.parent_id == m->parent_id) {
                        siblings.push_back(&s);
                    }
                }
                std::sort(siblings.begin(), siblings.end(), [](const auto* a, const auto* b) {
                    return std::tie(a->created_at, a->id) < std::tie(b->created_at, b->id);
                });
                p.sibling_count = static_cast<std::int64_t>(siblings.size());
                p.sibling_index = std::find(siblings.begin(), siblings.end(), m) - siblings.begin();
                out.insert(out.begin(), p);
                if (!m->parent_id || static_cast<std::int64_t>(out.size()) >= limit) {
                    break;
                }
                m = by_id.at(*m->parent_id);
            }
            return out;
        };
        std::vector<std::optional<std::string>> leaves{std::nullopt};
        for (int k = 0; k < 8; ++k) {
            leaves.emplace_back(messages[random() % messages.size()].id);
        }
        for (const auto& leaf : leaves) {
            for (const std::int64_t limit : {1, 3, 100, 1000}) {
                const auto want = expected(leaf.value_or(*c.active_leaf_id), limit);
                const auto got = run_awaitable(store_->message_path(c.id, leaf, limit)).value();
                const auto bare =
                    run_awaitable(store_->message_path(c.id, leaf, limit, Siblings::skipped))
                        .value();
                ASSERT_EQ(got.size(), want.size()) << size << " " << limit;
                ASSERT_EQ(bare.size(), want.size()) << size << " " << limit;
                for (std::size_t i = 0; i < want.size(); ++i) {
                    EXPECT_EQ(got[i].message->id, want[i].message->id) << size << " " << limit;
                    EXPECT_EQ(got[i].message->content, want[i].message->content);
                    EXPECT_EQ(got[i].message->parent_id, want[i].message->parent_id);
                    EXPECT_EQ(got[i].message->created_at, want[i].message->created_at);
                    EXPECT_EQ(got[i].sibling_count, want[i].sibling_count) << want[i].message->id;
                    EXPECT_EQ(got[i].sibling_index, want[i].sibling_index) << want[i].message->id;
                    EXPECT_EQ(bare[i].message->id, want[i].message->id);
                    EXPECT_EQ(bare[i].sibling_count, 1);
                    EXPECT_EQ(bare[i].sibling_index, 0);
                }
            }
        }
        EXPECT_TRUE(run_awaitable(store_->message_path(c.id, "no such id", 100)).value().empty());
    }
}

// Either side of the most a read walks in memory (the store reads one row past it to tell): the
// same branch and sibling counts whether the conversation was walked in memory or in SQL; and a
// conversation without messages has no branch, with or without a leaf.
TEST_P(TreeStoreTest, BranchesEitherSideOfTheInMemoryBoundAgree) {
    EXPECT_TRUE(path(std::nullopt).empty());
    EXPECT_TRUE(path("no such id").empty());
    constexpr std::int64_t kLimit = 3;
    const std::int64_t most = walk_in_memory_at_most(kLimit);
    // Two roots, then a chain below the first: the newest message is the active leaf.
    const auto root = add("user", std::nullopt, 0);
    add("user", std::nullopt, 1);
    std::vector<std::string> chain{root};
    int ms = 2;
    for (std::int64_t count = 2; count < most - 1; ++count) {
        chain.push_back(add(ms % 2 == 0 ? "assistant" : "user", chain.back(), ms));
        ++ms;
    }
    for (std::int64_t count = most - 1; count <= most + 1; ++count) {
        const std::vector<std::string> newest(chain.end() - kLimit, chain.end());
        EXPECT_EQ(ids(path(std::nullopt, kLimit)), newest) << count << " messages";
        EXPECT_EQ(ids(path(chain.back(), kLimit)), newest) << count << " messages";
        const auto from_root = path(root, kLimit);
        ASSERT_EQ(ids(from_root), std::vector<std::string>{root}) << count << " messages";
        EXPECT_EQ(from_root[0].sibling_count, 2);
        EXPECT_EQ(from_root[0].sibling_index, 0);
        chain.push_back(add(ms % 2 == 0 ? "assistant" : "user", chain.back(), ms));
        ++ms;
    }
}

// Context reads (no sibling counts) of a conversation past the in-memory bound go through the
// remembered tree shapes on SQLite: they must give the path the counted read gives as the
// conversation grows, after it is deleted, and when it is written again under the same ids with
// another shape (ids and seqs reused: what was remembered is stale).
TEST_P(TreeStoreTest, ContextReadsOfALargeConversationFollowGrowthAndDeletion) {
    const auto same_path = [&](const std::optional<std::string>& leaf, std::int64_t limit) {
        const auto counted =
            run_awaitable(store_->message_path(conversation_.id, leaf, limit)).value();
        for (int twice = 0; twice < 2; ++twice) {
            const auto bare =
                run_awaitable(store_->message_path(conversation_.id, leaf, limit, Siblings::skipped)
                )
                    .value();
            EXPECT_EQ(ids(bare), ids(counted)) << limit;
            for (std::size_t i = 0; i < bare.size() && i < counted.size(); ++i) {
                EXPECT_EQ(bare[i].message->content, counted[i].message->content);
                EXPECT_EQ(bare[i].message->parent_id, counted[i].message->parent_id);
                EXPECT_EQ(bare[i].sibling_count, 1);
            }
        }
        return counted.size();
    };
    // 300 messages: u/a pairs, each pair answering the previous pair, every tenth a new branch
    // from three pairs back.
    const auto write_tree = [&](const std::vector<std::string>& message_ids, bool reversed) {
        std::vector<Message> messages;
        for (std::size_t i = 0; i < message_ids.size(); ++i) {
            Message m;
            m.id = message_ids[i];
            m.conversation_id = conversation_.id;
            m.role = i % 2 == 0 ? "user" : "assistant";
            m.content = (reversed ? "second " : "first ") + std::to_string(i);
            m.created_at = kBase + std::chrono::milliseconds(i);
            if (i > 0) {
                const std::size_t back = i % 20 == 0 && i >= 6 ? 5 : 1;
                m.parent_id = message_ids[i - back];
            }
            messages.push_back(std::move(m));
        }
        if (reversed) {
            // The same ids, another shape: every message but the first hangs on the first.
            for (std::size_t i = 1; i < messages.size(); ++i) {
                messages[i].parent_id = i % 3 == 0 ? message_ids[0] : message_ids[i - 1];
            }
        }
        Conversation c = conversation_;
        c.active_leaf_id = message_ids.back();
        ASSERT_TRUE(run_awaitable(store_->insert_conversation_trees({{c, messages}})).has_value());
    };
    std::vector<std::string> message_ids;
    for (int i = 0; i < 300; ++i) {
        message_ids.push_back(new_uuid_v7());
    }
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(conversation_.id)).value());
    write_tree(message_ids, false);
    for (const std::int64_t limit : {1, 7, 500, 50, 1000}) {
        same_path(std::nullopt, limit);
    }
    EXPECT_EQ(same_path(message_ids[150], 500), 123U);  // seven branch points skip 4 each
    EXPECT_EQ(same_path(message_ids.back(), 500), 244U);
    EXPECT_EQ(same_path(message_ids[0], 500), 1U);
    EXPECT_TRUE(same_path("no such message", 500) == 0U);
    // Sends: new messages below the active leaf and below an older message.
    auto leaf = add("user", message_ids.back(), 1000);
    leaf = add("assistant", leaf, 1001);
    add("user", message_ids[100], 1002);
    EXPECT_EQ(same_path(leaf, 500), 246U);
    EXPECT_EQ(same_path(std::nullopt, 500), 82U);  // the active leaf: the last message added
    // Deleted, then written again with the same ids in another shape.
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(conversation_.id)).value());
    EXPECT_EQ(same_path(message_ids.back(), 500), 0U);
    write_tree(message_ids, true);
    EXPECT_EQ(same_path(std::nullopt, 500), 4U);    // 299 → 298 → 297 → 0
    EXPECT_EQ(same_path(message_ids[4], 500), 3U);  // 4 → 3 → 0
}

// The rows of a branch are remembered after a read (a small conversation's, found by its scan,
// and a large one's context read); another store on the same database (another process) that
// deletes the conversation and writes it again under the same ids with other texts must not
// leave the first serving the old rows: its snapshot counts the deletions (migration 0009 on
// SQLite).
TEST_P(TreeStoreTest, RememberedRowsGiveWayToAnotherStoresDeletion) {
    const auto write = [&](const std::string& text, int count) {
        std::vector<Message> messages;
        for (int i = 0; i < count; ++i) {
            Message m;
            m.id = conversation_.id + "-" + std::to_string(i);
            m.conversation_id = conversation_.id;
            m.role = i % 2 == 0 ? "user" : "assistant";
            m.content = text + " " + std::to_string(i);
            m.created_at = kBase + std::chrono::milliseconds(i);
            if (i > 0) {
                m.parent_id = messages.back().id;
            }
            messages.push_back(std::move(m));
        }
        Conversation c = conversation_;
        c.active_leaf_id = messages.back().id;
        return run_awaitable(store_->insert_conversation_trees({{c, messages}})).has_value();
    };
    const auto contents = [&](Store& store, Siblings siblings) {
        std::vector<std::string> out;
        const auto p =
            run_awaitable(store.message_path(conversation_.id, std::nullopt, 500, siblings))
                .value();
        for (const auto& m : p) {
            out.push_back(m.message->content);
        }
        return out;
    };
    auto other = db_->open(pool_);
    for (const int count : {40, 300}) {
        for (const auto siblings : {Siblings::skipped, Siblings::counted}) {
            SCOPED_TRACE(std::to_string(count) + " messages");
            run_awaitable(other->delete_conversation(conversation_.id)).value();
            ASSERT_TRUE(write("first", count));
            const auto first = contents(*store_, siblings);
            ASSERT_EQ(first.size(), static_cast<std::size_t>(count));
            EXPECT_EQ(first.back(), "first " + std::to_string(count - 1));
            EXPECT_EQ(contents(*store_, siblings), first);  // again: from the rows remembered

            ASSERT_TRUE(run_awaitable(other->delete_conversation(conversation_.id)).value());
            EXPECT_TRUE(contents(*store_, siblings).empty());
            ASSERT_TRUE(write("second", count));
            const auto second = contents(*store_, siblings);
            ASSERT_EQ(second.size(), static_cast<std::size_t>(count));
            EXPECT_EQ(second.front(), "second 0");
            EXPECT_EQ(second.back(), "second " + std::to_string(count - 1));
            EXPECT_EQ(contents(*other, siblings), second);
        }
    }
}

// A context read goes through the shapes a store remembers whatever the conversation's size
// (SQLite: on the I/O thread when at most 16 places and rows are to be read, else by the scan or
// the pool's walk). What another store (another process) adds must be followed: a few messages
// past the branch remembered, more than the bound at once, a branch switched to a sibling, and a
// conversation past the scan's bound.
TEST_P(TreeStoreTest, ContextReadsFollowWhatAnotherStoreAdds) {
    auto other = db_->open(pool_);
    std::string parent;
    int next = 0;
    const auto add = [&](int count, std::optional<std::string> from = std::nullopt) {
        if (from) {
            parent = *from;
        }
        for (int i = 0; i < count; ++i, ++next) {
            Message m;
            m.id = new_uuid_v7();
            m.conversation_id = conversation_.id;
            m.role = next % 2 == 0 ? "user" : "assistant";
            m.content = "message " + std::to_string(next);
            m.created_at = kBase + std::chrono::milliseconds(next);
            if (!parent.empty()) {
                m.parent_id = parent;
            }
            ASSERT_TRUE(run_awaitable(other->insert_message(m)).has_value());
            parent = m.id;
        }
    };
    // The context read of `store_` against a counted read of a store that remembers nothing.
    const auto same_as_fresh = [&](std::size_t expected) {
        const auto context = ids(path(std::nullopt, 500));
        auto fresh = db_->open(pool_);
        const auto counted = run_awaitable(
            fresh->message_path(conversation_.id, std::nullopt, 500, Siblings::counted)
        );
        EXPECT_TRUE(counted.has_value());
        EXPECT_EQ(context, counted ? ids(*counted) : std::vector<std::string>{});
        EXPECT_EQ(context.size(), expected);
        return context;
    };
    add(40);
    const auto first = same_as_fresh(40);            // nothing remembered: the scan
    EXPECT_EQ(ids(path(std::nullopt, 500)), first);  // again: through the shapes
    add(5);
    same_as_fresh(45);  // five places read
    add(20);
    const auto grown = same_as_fresh(65);  // past the bound
    add(3, first[9]);                      // a sibling of message 10's child, now the active leaf
    const auto switched = same_as_fresh(13);
    EXPECT_EQ(
        std::vector<std::string>(switched.begin(), switched.begin() + 10),
        std::vector<std::string>(first.begin(), first.begin() + 10)
    );
    EXPECT_EQ(ids(path(grown.back(), 500)), grown);    // the old branch, by its leaf
    EXPECT_EQ(ids(path(std::nullopt, 5)).size(), 5U);  // the newest five
    add(260);  // past the in-memory scan's bound too (328 messages): the pool's walk
    same_as_fresh(273);
    add(2);
    same_as_fresh(275);  // and through the shapes again
}

// SQLite: a reader whose snapshot is older than what the shapes hold (a deletion committed after
// it began, and a newer reader walked first) cannot remember what it reads; the walk through the
// shapes gives up (to the SQL walk) instead of reading the same message again and again.
TEST_P(TreeStoreTest, AWalkInASnapshotOlderThanTheShapesGivesUp) {
    if (GetParam() != testing::Backend::sqlite) {
        GTEST_SKIP() << "SQLite's TreeShapes";
    }
    const auto u = add("user", std::nullopt, 1);
    const auto a = add("assistant", u, 2);
    add("user", a, 3);
    auto other = testing::seed_conversation(*store_, kBase);
    ASSERT_TRUE(other);
    Message gone;
    gone.id = new_uuid_v7();
    gone.conversation_id = other->id;
    gone.role = "user";
    gone.content = "deleted";
    gone.created_at = kBase;
    ASSERT_TRUE(run_awaitable(store_->insert_message(gone)).has_value());

    const std::string& path = db_->url().target;
    sqlite::Connection old_reader(path, true);
    old_reader.run_cached("BEGIN");
    const std::int64_t old_epoch = sqlite::message_epoch(old_reader);  // its snapshot begins
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(other->id)).value());
    TreeShapes shapes;
    sqlite::Connection reader(path, true);
    EXPECT_GT(sqlite::message_epoch(reader), old_epoch);
    const auto fresh =
        sqlite::path_from_shapes(reader, shapes, conversation_.id, std::nullopt, 500);
    ASSERT_TRUE(fresh.has_value());
    EXPECT_EQ(fresh->size(), 3U);
    EXPECT_FALSE(sqlite::path_from_shapes(old_reader, shapes, conversation_.id, std::nullopt, 500)
                     .has_value());
    old_reader.run_cached("COMMIT");
}

// A message a store has just written is the row the next read finds, field for field and with its
// time as stored (to the millisecond), on every backend. On SQLite the writing store remembers it
// (issue 14: a turn's context read then reads none of the previous turn's rows): shown here by a
// change made behind its back with the epoch trigger dropped, which it does not see, while a
// store that did not write the rows does; a deletion counted since makes it read again.
TEST_P(TreeStoreTest, AWrittenMessageIsReadBackAsStored) {
    Message question;
    question.id = new_uuid_v7();
    question.conversation_id = conversation_.id;
    question.role = "user";
    question.content = "what is stored?";
    question.token_count = 4;
    question.created_at = kBase + std::chrono::microseconds(1'234'567);  // stored to the ms
    Message answer = question;
    answer.id = new_uuid_v7();
    answer.parent_id = question.id;
    answer.role = "assistant";
    answer.content = "this, field for field";
    answer.thinking = "a thought";
    answer.status = "partial";
    answer.model = "gpt-4o-mini";
    answer.provider = "openai";
    answer.finish_reason = "length";
    answer.input_tokens = 11;
    answer.output_tokens = 7;
    answer.cost_micros = 42;
    answer.latency_ms = 900;
    answer.ttft_ms = 120;
    answer.metadata = R"({"tool_rounds":1})";
    answer.created_at = question.created_at + std::chrono::microseconds(2'500);
    ASSERT_TRUE(run_awaitable(store_->insert_message(question)).has_value());
    ASSERT_TRUE(run_awaitable(store_->insert_message(answer)).has_value());

    // As stored: the time to the millisecond.
    const auto stored = [](Message m) {
        m.created_at = std::chrono::floor<std::chrono::milliseconds>(m.created_at);
        return m;
    };
    const auto read_both = [&](Store& store) {
        for (const auto siblings : {Siblings::skipped, Siblings::counted}) {
            const auto p =
                run_awaitable(store.message_path(conversation_.id, std::nullopt, 10, siblings))
                    .value();
            ASSERT_EQ(p.size(), 2U);
            testing::expect_same_message(*p[0].message, stored(question));
            testing::expect_same_message(*p[1].message, stored(answer));
        }
    };
    auto other = db_->open(pool_);  // reads what is stored
    read_both(*other);
    if (GetParam() != testing::Backend::sqlite) {
        read_both(*store_);
        return;
    }
    const auto answer_text = [&](Store& store) {
        const auto p =
            run_awaitable(store.message_path(conversation_.id, std::nullopt, 10)).value();
        return p.size() == 2 ? p[1].message->content : std::string("(no branch)");
    };
    const auto exec = [&](const char* sql) {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(db_->url().target.c_str(), &raw), SQLITE_OK);
        EXPECT_EQ(sqlite3_exec(raw, sql, nullptr, nullptr, nullptr), SQLITE_OK)
            << sqlite3_errmsg(raw);
        sqlite3_close(raw);
    };
    // Changed behind the stores' backs, before the writing store has read anything: a fresh
    // store reads the change, the writing store still has both rows as it wrote them.
    exec(
        "DROP TRIGGER message_epoch_update; UPDATE messages SET content = 'changed' "
        "WHERE role = 'assistant'"
    );
    auto fresh = db_->open(pool_);
    EXPECT_EQ(answer_text(*fresh), "changed");
    read_both(*store_);
    // A counted change makes the writing store read again.
    exec("UPDATE message_epoch SET value = value + 1 WHERE id = 1");
    EXPECT_EQ(answer_text(*store_), "changed");
}

// The rows remembered: handed out by the walk, bounded in bytes with the places (the least
// recently used conversation goes first; a row that does not fit beside its own conversation's is
// not kept),
// forgotten when a newer snapshot counts more deletions, and neither used nor added to by an
// older snapshot.
TEST(TreeShapesTest, RemembersRowsWithinItsBoundAndItsEpoch) {
    const auto row = [](const std::string& id, std::size_t size) {
        Message m;
        m.id = id;
        m.content = std::string(size, 'x');
        return std::make_shared<const Message>(std::move(m));
    };
    TreeShapes shapes(8, 64, 7'000);
    shapes.add("c1", "a", {1, std::nullopt}, 3);
    shapes.add("c1", "b", {2, "a"}, 3);
    shapes.add_row("c1", "b", row("b", 1'000), 3);
    shapes.add_row("c1", "zz", row("zz", 1'000), 3);  // not a known message: not kept
    auto walk = TreeShapes::start("b", 10, 3);
    shapes.extend("c1", walk);
    ASSERT_EQ(walk.rows.size(), 2U);
    ASSERT_TRUE(walk.rows[0]);
    EXPECT_EQ(walk.rows[0]->content.size(), 1'000U);
    EXPECT_FALSE(walk.rows[1]);  // a's place is known, its row is not
    const std::size_t one = shapes.bytes();
    EXPECT_GE(one, 1'000U);
    EXPECT_LT(one, 2'500U);

    shapes.add("c2", "p", {5, std::nullopt}, 3);
    shapes.add_row("c2", "p", row("p", 2'000), 3);
    walk = TreeShapes::start("b", 10, 3);
    shapes.extend("c1", walk);  // c1 walked after c2: c2 is the least recent now
    shapes.add("c3", "q", {6, std::nullopt}, 3);
    shapes.add_row("c3", "q", row("q", 3'500), 3);  // past 7,000 with both: c2 goes
    walk = TreeShapes::start("p", 10, 3);
    shapes.extend("c2", walk);
    EXPECT_TRUE(walk.seqs.empty());
    walk = TreeShapes::start("b", 10, 3);
    shapes.extend("c1", walk);
    ASSERT_EQ(walk.rows.size(), 2U);
    EXPECT_TRUE(walk.rows[0]);
    shapes.add("c3", "r", {7, "q"}, 3);
    shapes.add_row("c3", "r", row("r", 5'900), 3);  // c1 goes, and still it does not fit
    walk = TreeShapes::start("r", 10, 3);
    shapes.extend("c3", walk);
    ASSERT_EQ(walk.rows.size(), 2U);
    EXPECT_FALSE(walk.rows[0]);
    EXPECT_TRUE(walk.rows[1]);
    walk = TreeShapes::start("b", 10, 3);
    shapes.extend("c1", walk);
    EXPECT_TRUE(walk.seqs.empty());
    EXPECT_LE(shapes.bytes(), 7'000U);

    // An older snapshot: nothing is used or added.
    walk = TreeShapes::start("r", 10, 2);
    shapes.extend("c3", walk);
    EXPECT_TRUE(walk.seqs.empty());
    shapes.add("c3", "s", {8, "r"}, 2);
    walk = TreeShapes::start("s", 10, 3);
    shapes.extend("c3", walk);
    EXPECT_TRUE(walk.seqs.empty());
    EXPECT_EQ(walk.next, "s");
    // A newer one: everything remembered is forgotten.
    walk = TreeShapes::start("r", 10, 4);
    shapes.extend("c3", walk);
    EXPECT_TRUE(walk.seqs.empty());
    EXPECT_EQ(shapes.bytes(), 0U);
    shapes.forget("c3");
}

// A place and its row remembered in one call (the small conversations' scan) are what the two
// calls remember; a place already known keeps the row it has.
TEST(TreeShapesTest, APlaceAndItsRowAtOnce) {
    TreeShapes shapes;
    Message first;
    first.id = "a";
    first.content = "first";
    shapes.add("c1", "a", {1, std::nullopt}, std::make_shared<const Message>(first), 0);
    Message other = first;
    other.content = "other";
    shapes.add("c1", "a", {1, std::nullopt}, std::make_shared<const Message>(other), 0);
    auto walk = TreeShapes::start("a", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{1}));
    ASSERT_TRUE(walk.rows[0]);
    EXPECT_EQ(walk.rows[0]->content, "first");
    EXPECT_EQ(walk.ids, (std::vector<std::string>{""}));
    EXPECT_GE(shapes.bytes(), sizeof(Message));
    // Another epoch's snapshot neither uses nor adds.
    shapes.add("c1", "b", {2, "a"}, std::make_shared<const Message>(other), -1);
    walk = TreeShapes::start("b", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_TRUE(walk.seqs.empty());
}

// A walk finds each parent by id once and then follows the link; a walk with the links gives what
// the first gave, a remembered row's id is the row's, and a conversation started anew (past its
// bound) keeps no link into what it dropped.
TEST(TreeShapesTest, LinksGiveWhatTheIdsGaveAndGoWithTheirShape) {
    TreeShapes shapes(2, 3);
    shapes.add("c1", "a", {1, std::nullopt}, 0);
    shapes.add("c1", "b", {2, "a"}, 0);
    shapes.add("c1", "c", {3, "b"}, 0);
    for (int pass = 0; pass < 2; ++pass) {  // the second walk follows the links the first made
        auto walk = TreeShapes::start("c", 10, 0);
        shapes.extend("c1", walk);
        EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{3, 2, 1})) << pass;
        EXPECT_EQ(walk.ids, (std::vector<std::string>{"c", "b", "a"})) << pass;
        EXPECT_FALSE(walk.next);
    }
    Message row;
    row.id = "b";
    shapes.add_row("c1", "b", std::make_shared<const Message>(row), 0);
    auto walk = TreeShapes::start("c", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_EQ(walk.ids, (std::vector<std::string>{"c", "", "a"}));
    ASSERT_TRUE(walk.rows[1]);
    EXPECT_EQ(walk.rows[1]->id, "b");

    shapes.add("c1", "d", {4, "c"}, 0);  // a fourth message: c1 starts anew with d alone
    walk = TreeShapes::start("d", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{4}));
    EXPECT_EQ(walk.next, "c");
    shapes.add("c1", "c", {30, "b"}, 0);
    walk = TreeShapes::start("d", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{4, 30}));
    EXPECT_EQ(walk.next, "b");
}

// The shapes: a walk steps through what is known and stops at the first unknown message; the
// least recently walked conversation goes first; a conversation past its bound starts anew.
TEST(TreeShapesTest, WalksWhatIsKnownAndStaysBounded) {
    TreeShapes shapes(2, 4);
    shapes.add("c1", "a", {1, std::nullopt}, 0);
    shapes.add("c1", "b", {2, "a"}, 0);
    shapes.add("c1", "c", {3, "b"}, 0);
    auto walk = TreeShapes::start("d", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_FALSE(walk.done());
    EXPECT_EQ(walk.next, "d");
    shapes.add("c1", "d", {7, "c"}, 0);
    shapes.extend("c1", walk);
    EXPECT_TRUE(walk.done());
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{7, 3, 2, 1}));
    EXPECT_EQ(walk.ids, (std::vector<std::string>{"d", "c", "b", "a"}));
    EXPECT_FALSE(walk.next);  // a root ends it

    walk = TreeShapes::start("d", 2, 0);
    shapes.extend("c1", walk);
    EXPECT_TRUE(walk.done());
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{7, 3}));
    EXPECT_EQ(walk.next, "b");  // where the limit stopped it

    walk = TreeShapes::start("d", 10, 0);
    shapes.extend("c2", walk);  // another conversation knows nothing of c1's messages
    EXPECT_TRUE(walk.seqs.empty());

    shapes.add("c2", "x", {10, std::nullopt}, 0);
    walk = TreeShapes::start("a", 10, 0);
    shapes.extend("c1", walk);  // c1 walked after c2 was added: c2 is the least recent
    shapes.add("c3", "y", {11, std::nullopt}, 0);
    walk = TreeShapes::start("x", 10, 0);
    shapes.extend("c2", walk);
    EXPECT_TRUE(walk.seqs.empty());  // c2 was dropped for c3
    walk = TreeShapes::start("a", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{1}));

    shapes.add("c1", "e", {8, "d"}, 0);  // the fifth message of c1: it starts anew
    walk = TreeShapes::start("e", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_EQ(walk.seqs, (std::vector<std::int64_t>{8}));
    EXPECT_EQ(walk.next, "d");

    shapes.forget("c1");
    walk = TreeShapes::start("e", 10, 0);
    shapes.extend("c1", walk);
    EXPECT_TRUE(walk.seqs.empty());
}

TEST_P(TreeStoreTest, MessagesOfAnotherConversationAreNotFound) {
    const auto u1 = add("user", std::nullopt, 0);
    Conversation other = conversation_;
    other.id = new_uuid_v7();
    ASSERT_TRUE(run_awaitable(store_->create_conversation(other)).has_value());
    EXPECT_TRUE(run_awaitable(store_->message_path(other.id, u1, 10)).value().empty());
    EXPECT_FALSE(run_awaitable(store_->branch_leaf(other.id, u1)).value());
    EXPECT_FALSE(run_awaitable(store_->set_active_leaf(other.id, u1)).value());
    EXPECT_FALSE(run_awaitable(store_->find_conversation(other.id)).value()->active_leaf_id);
}

TEST_P(TreeStoreTest, UpdatingAConversationKeepsItsActiveLeaf) {
    add("user", std::nullopt, 0);
    const auto leaf = active_leaf();
    auto c = *run_awaitable(store_->find_conversation(conversation_.id)).value();
    c.active_leaf_id.reset();
    c.title = "renamed";
    ASSERT_TRUE(run_awaitable(store_->update_conversation(c)).value());
    EXPECT_EQ(active_leaf(), leaf);
}

TEST_P(TreeStoreTest, AConversationTreeIsWrittenWholeOrNotAtAll) {
    Conversation c = conversation_;
    c.id = new_uuid_v7();
    std::vector<Message> messages(3);
    for (std::size_t i = 0; i < messages.size(); ++i) {
        messages[i].id = new_uuid_v7();
        messages[i].conversation_id = c.id;
        messages[i].role = i == 1 ? "assistant" : "user";
        messages[i].content = "copy " + std::to_string(i);
        messages[i].created_at = kBase + std::chrono::milliseconds(i);
    }
    messages[1].parent_id = messages[0].id;
    messages[2].parent_id = messages[0].id;  // a sibling of the answer
    c.active_leaf_id = messages[1].id;
    ASSERT_TRUE(run_awaitable(store_->insert_conversation_trees({{c, messages}})).has_value());
    const auto p = run_awaitable(store_->message_path(c.id, std::nullopt, 10)).value();
    ASSERT_EQ(p.size(), 2U);
    EXPECT_EQ(p[1].message->content, "copy 1");
    EXPECT_EQ(p[1].sibling_count, 2);

    // A taken message id in the second of two trees: nothing of either is kept.
    Conversation d = conversation_;
    d.id = new_uuid_v7();
    Message fine = messages[0];
    fine.id = new_uuid_v7();
    fine.conversation_id = d.id;
    Conversation e = conversation_;
    e.id = new_uuid_v7();
    std::vector<Message> clash = {messages[0], messages[1]};
    clash[0].id = new_uuid_v7();
    clash[0].conversation_id = e.id;
    clash[1].conversation_id = e.id;  // messages[1].id exists already
    const auto refused =
        run_awaitable(store_->insert_conversation_trees({{d, {fine}}, {e, clash}}));
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().type, ErrorType::conflict);
    EXPECT_FALSE(run_awaitable(store_->find_conversation(d.id)).value());
    EXPECT_FALSE(run_awaitable(store_->find_conversation(e.id)).value());
    EXPECT_TRUE(run_awaitable(store_->message_path(d.id, fine.id, 10)).value().empty());
}

TEST_P(TreeStoreTest, ShareLinksAreFoundListedAndRevoked) {
    Share s;
    s.id = new_uuid_v7();
    s.token = "token-" + new_uuid_v7();
    s.user_id = conversation_.user_id;
    s.conversation_id = conversation_.id;
    s.snapshot = R"({"title":"t","messages":[]})";
    s.created_at = kBase;
    ASSERT_TRUE(run_awaitable(store_->create_share(s)).has_value());
    Share later = s;
    later.id = new_uuid_v7();
    later.token = "token-" + new_uuid_v7();
    later.created_at = kBase + std::chrono::seconds(1);
    ASSERT_TRUE(run_awaitable(store_->create_share(later)).has_value());
    const auto found = run_awaitable(store_->find_share(s.token)).value();
    ASSERT_TRUE(found);
    EXPECT_EQ(found->snapshot, s.snapshot);
    EXPECT_EQ(found->created_at, s.created_at);
    EXPECT_FALSE(found->revoked_at);
    auto listed = run_awaitable(store_->list_shares(s.user_id)).value();
    ASSERT_EQ(listed.size(), 2U);
    EXPECT_EQ(listed[0].id, later.id);  // newest first
    EXPECT_TRUE(run_awaitable(store_->list_shares("someone else")).value().empty());
    EXPECT_FALSE(run_awaitable(store_->revoke_share(s.id, "someone else", kBase)).value());
    EXPECT_TRUE(run_awaitable(store_->revoke_share(s.id, s.user_id, kBase)).value());
    EXPECT_FALSE(run_awaitable(store_->revoke_share(s.id, s.user_id, kBase)).value());
    EXPECT_EQ(run_awaitable(store_->find_share(s.token)).value()->revoked_at, kBase);
    listed = run_awaitable(store_->list_shares(s.user_id)).value();
    ASSERT_EQ(listed.size(), 1U);
    EXPECT_EQ(listed[0].id, later.id);
    EXPECT_FALSE(run_awaitable(store_->find_share("no such token")).value());
    // Links go with their conversation.
    ASSERT_TRUE(run_awaitable(store_->delete_conversation(conversation_.id)).value());
    EXPECT_FALSE(run_awaitable(store_->find_share(later.token)).value());
}

// Before 0006 only answers had parents: the migration chains each parentless message to the one
// before it, so an old conversation is one branch whose newest message is the active leaf.
TEST(TreeMigration, ChainsExistingSqliteMessages) {
    TestDatabase db(testing::Backend::sqlite);
    std::filesystem::create_directories(std::filesystem::path(db.url().target).parent_path());
    {
        sqlite3* raw = nullptr;
        ASSERT_EQ(sqlite3_open(db.url().target.c_str(), &raw), SQLITE_OK);
        std::string sql =
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            "applied_at TEXT NOT NULL);";
        sql += sqlite_migrations()[0].sql;  // a database from before the tree (version 1)
        sql += ";INSERT INTO schema_migrations VALUES (1, 'init', '2026-01-01T00:00:00.000Z');";
        sql +=
            "INSERT INTO users VALUES ('u1', 'a@b.co', 'x', '2026-01-01T00:00:00.000Z');"
            "INSERT INTO conversations(id, user_id, title, model, created_at, updated_at) VALUES "
            "('c1', 'u1', 'Old', 'm', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z');"
            "INSERT INTO messages(id, conversation_id, parent_id, role, content, created_at) "
            "VALUES ('m1', 'c1', NULL, 'user', 'q1', '2026-01-01T00:00:01.000Z'),"
            "('m2', 'c1', 'm1', 'assistant', 'a1', '2026-01-01T00:00:02.000Z'),"
            "('m3', 'c1', NULL, 'user', 'q2', '2026-01-01T00:00:03.000Z'),"
            "('m4', 'c1', 'm3', 'assistant', 'a2', '2026-01-01T00:00:04.000Z');";
        char* error = nullptr;
        ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
        sqlite3_close(raw);
    }
    async::BlockingPool pool{1};
    const auto store = db.open(pool);
    const auto applied = store->migrate();
    ASSERT_TRUE(applied.has_value()) << applied.error().detail;
    ASSERT_FALSE(applied->empty());
    EXPECT_NE(std::find(applied->begin(), applied->end(), 6), applied->end());  // the tree's ran
    EXPECT_EQ(run_awaitable(store->find_conversation("c1")).value()->active_leaf_id, "m4");
    const auto p = run_awaitable(store->message_path("c1", std::nullopt, 10)).value();
    ASSERT_EQ(p.size(), 4U);
    EXPECT_EQ(p[0].message->id, "m1");
    EXPECT_FALSE(p[0].message->parent_id);
    EXPECT_EQ(p[2].message->parent_id, "m2");
    EXPECT_EQ(p[3].message->id, "m4");
}

}  // namespace
}  // namespace parley::store
