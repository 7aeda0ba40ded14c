// Where a turn goes in the message tree, and what context it gets (messages/tree.hpp).
#include "messages/tree.hpp"

#include <gtest/gtest.h>

namespace parley::messages {
namespace {

store::PathMessage node(std::string id, std::string role, std::optional<std::string> parent) {
    store::Message m;
    m.id = std::move(id);
    m.role = std::move(role);
    m.parent_id = std::move(parent);
    m.content = "content of " + m.id;
    store::PathMessage p;
    p.message = std::make_shared<const store::Message>(std::move(m));
    return p;
}

// u1 ─ a1 ─ u2 ─ a2: the path as the store returns it, oldest first.
std::vector<store::PathMessage> path() {
    return {
        node("u1", "user", std::nullopt),
        node("a1", "assistant", "u1"),
        node("u2", "user", "a1"),
        node("a2", "assistant", "u2"),
    };
}

std::vector<std::string> ids(const std::vector<store::SharedMessage>& v) {
    std::vector<std::string> out;
    for (const auto& m : v) {
        out.push_back(m->id);
    }
    return out;
}

TEST(Place, AppendContinuesTheActiveLeafWithTheWholePath) {
    const auto p = place({}, path()).value();
    EXPECT_EQ(p.parent_id, "a2");
    EXPECT_EQ(ids(p.newest_first), (std::vector<std::string>{"a2", "u2", "a1", "u1"}));
    EXPECT_FALSE(p.question);
    const auto first = place({}, {}).value();
    EXPECT_FALSE(first.parent_id);
    EXPECT_TRUE(first.newest_first.empty());
}

TEST(Place, AnEditIsASiblingSeeingOnlyWhatCameBefore) {
    auto edited = path();
    edited.pop_back();  // the path ends at the edited message, u2
    const auto p = place({Branch::Kind::edit, "u2"}, edited).value();
    EXPECT_EQ(p.parent_id, "a1");
    EXPECT_EQ(ids(p.newest_first), (std::vector<std::string>{"a1", "u1"}));
    const auto root = place({Branch::Kind::edit, "u1"}, {node("u1", "user", std::nullopt)});
    EXPECT_FALSE(root.value().parent_id);  // editing the first message makes a new root
    EXPECT_TRUE(root.value().newest_first.empty());
}

TEST(Place, ARegenerationAnswersTheStoredQuestionAgain) {
    const auto p = place({Branch::Kind::regenerate, "a2"}, path()).value();
    ASSERT_TRUE(p.question);
    EXPECT_EQ(p.question->id, "u2");
    EXPECT_EQ(p.question->content, "content of u2");
    EXPECT_EQ(ids(p.newest_first), (std::vector<std::string>{"u2", "a1", "u1"}));
}

TEST(Place, RefusesWhatCannotBeEditedOrRegenerated) {
    auto r = place({Branch::Kind::edit, "a2"}, path());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, ErrorType::unprocessable);
    auto to_u2 = path();
    to_u2.pop_back();
    r = place({Branch::Kind::regenerate, "u2"}, to_u2);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, ErrorType::unprocessable);
    r = place({Branch::Kind::regenerate, "a0"}, {node("a0", "assistant", std::nullopt)});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, ErrorType::unprocessable);
    r = place({Branch::Kind::edit, "gone"}, {});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().type, ErrorType::not_found);
}

}  // namespace
}  // namespace parley::messages
