#include "llm/types.hpp"

#include <memory>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace parley::llm {
namespace {

TEST(MessageTextTest, OwnsAStringItIsGiven) {
    std::string given = "hello";
    const MessageText text = given;
    given[0] = 'j';
    EXPECT_EQ(text, "hello");
    EXPECT_EQ(text.size(), 5U);
    EXPECT_FALSE(text.empty());
    EXPECT_TRUE(MessageText().empty());
    EXPECT_EQ(MessageText("literal"), "literal");
    std::ostringstream out;
    out << text;
    EXPECT_EQ(out.str(), "hello");
}

TEST(MessageTextTest, SharesAStringAnotherObjectKeepsAndKeepsThatObject) {
    auto row = std::make_shared<const std::string>("a stored row's text");
    const std::weak_ptr<const std::string> kept = row;
    MessageText text(row, *row);
    EXPECT_EQ(text.view().data(), row->data());
    const MessageText copy = text;  // a copy shares too
    EXPECT_EQ(copy.view().data(), row->data());
    row.reset();
    EXPECT_FALSE(kept.expired());
    EXPECT_EQ(text, "a stored row's text");
    text = MessageText();
    EXPECT_FALSE(kept.expired());  // the copy still holds it
    EXPECT_EQ(copy.str(), "a stored row's text");
}

TEST(MessageTextTest, AppendingToASharedTextMakesItsOwnAndLeavesTheSharedOne) {
    auto row = std::make_shared<const std::string>("shared");
    const std::weak_ptr<const std::string> kept = row;
    MessageText text(row, *row);
    row.reset();
    text += " and more";
    EXPECT_EQ(text, "shared and more");
    EXPECT_TRUE(kept.expired());  // no longer needed: the text is its own
    MessageText own = std::string("own");
    own += "ed";
    EXPECT_EQ(own, "owned");
    // Appending a view of what the shared text's owner keeps, when it is the last owner.
    auto last = std::make_shared<const std::string>("twice ");
    MessageText again(last, *last);
    const std::string_view before = again.view();
    last.reset();
    again += before;
    EXPECT_EQ(again, "twice twice ");
}

TEST(MessageTextTest, WithoutAnOwnerItCopies) {
    std::string text = "not kept by anyone";
    const MessageText copy(nullptr, text);
    text.assign(text.size(), 'x');
    EXPECT_EQ(copy, "not kept by anyone");
}

}  // namespace
}  // namespace parley::llm
