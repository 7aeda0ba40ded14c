#include "conversations/json.hpp"

#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include "common/json_writer.hpp"

namespace parley::conversations {
namespace {

namespace bj = boost::json;

const std::vector<std::string> kTexts = {
    "",
    "Plain title",
    "quotes \" backslash \\ newline \n tab \t bell \x07 form feed \f del \x7f",
    "caf\xc3\xa9 \xf0\x9f\x98\x80 invalid \xff\xc0\xaf truncated \xe2\x82",
};

// Stored JSON objects as they come: the usual `{}`, what an answer stores, whitespace and number
// forms a re-serialisation changes, duplicate keys, the figures' own keys (overwritten in place),
// and text that is not an object (shown as `{}`).
const std::vector<std::string> kStoredObjects = {
    "{}",
    R"({"fallback_used":false,"context_messages":12})",
    R"({ "a" : 1.50, "b" : [ true, null ], "a" : "last wins" })",
    R"({"output_tokens":"kept in place","x":{"nested":"\u00e9\n"},"cost_usd":null})",
    "not json",
    "[1,2]",
    "",
};

store::Conversation conversation(std::size_t i) {
    store::Conversation c;
    c.id = "c-" + std::to_string(i);
    c.user_id = "u-1";
    c.model = kTexts[i % kTexts.size()];
    if (i % 2 == 0) {
        c.title = kTexts[(i + 1) % kTexts.size()];
        c.system_prompt = kTexts[(i + 2) % kTexts.size()];
        c.summary = kTexts[(i + 3) % kTexts.size()];
        c.summary_updated_at = TimePoint{} + std::chrono::milliseconds(1'764'000'000'123LL);
        c.active_leaf_id = "m-" + std::to_string(i);
    }
    c.metadata = kStoredObjects[i % kStoredObjects.size()];
    c.settings = kStoredObjects[(i + 2) % kStoredObjects.size()];
    c.is_archived = i % 3 == 0;
    c.is_pinned = i % 5 == 0;
    c.created_at = TimePoint{} + std::chrono::milliseconds(1'700'000'000'000LL + 7);
    c.updated_at = TimePoint{} + std::chrono::microseconds(1'800'000'000'999'999LL);
    return c;
}

store::PathMessage message(std::size_t i) {
    store::Message m;
    m.id = "m-" + std::to_string(i);
    m.conversation_id = "c-1";
    m.role = i % 2 == 0 ? "user" : "assistant";
    m.content = kTexts[i % kTexts.size()];
    if (i % 2 == 1) {
        m.parent_id = "m-" + std::to_string(i - 1);
        m.thinking = kTexts[(i + 1) % kTexts.size()];
        m.model = "parley-mock";
        m.provider = "mock";
        m.finish_reason = "stop";
        m.latency_ms = static_cast<std::int64_t>(i) * 13;
    }
    m.status = i % 7 == 0 ? "partial" : "complete";
    m.token_count = static_cast<std::int64_t>(i) * 3;
    m.input_tokens = static_cast<std::int64_t>(i) * 100;
    m.output_tokens = static_cast<std::int64_t>(i);
    m.cost_micros = static_cast<std::int64_t>(i) * 1'234 + (i % 3 == 0 ? 0 : 7);
    m.metadata = kStoredObjects[i % kStoredObjects.size()];
    m.created_at = TimePoint{} + std::chrono::milliseconds(1'764'000'000'000LL + i);
    store::PathMessage p;
    p.message = std::make_shared<const store::Message>(std::move(m));
    p.sibling_count = static_cast<std::int64_t>(i % 4) + 1;
    p.sibling_index = static_cast<std::int64_t>(i % 4);
    return p;
}

template <class Write>
std::string written(Write&& write) {
    std::string out;
    json::Writer w(out);
    write(w);
    return out;
}

TEST(ConversationJsonWriterTest, ConversationIsTheSerialisedTree) {
    for (std::size_t i = 0; i < 28; ++i) {
        const auto c = conversation(i);
        EXPECT_EQ(
            written([&](json::Writer& w) { write_conversation(w, c); }),
            bj::serialize(conversation_json(c))
        ) << "conversation "
          << i;
    }
}

TEST(ConversationJsonWriterTest, MessagesAreTheSerialisedTrees) {
    for (std::size_t i = 0; i < 56; ++i) {
        const auto p = message(i);
        EXPECT_EQ(
            written([&](json::Writer& w) { write_message(w, *p.message); }),
            bj::serialize(message_json(*p.message))
        ) << "message "
          << i;
        EXPECT_EQ(
            written([&](json::Writer& w) { write_path_message(w, p); }),
            bj::serialize(path_message_json(p))
        ) << "path message "
          << i;
    }
}

TEST(ConversationJsonWriterTest, ConversationWithMessagesIsTheTreeTheRouteBuilt) {
    for (const std::size_t n : {0U, 1U, 50U}) {
        const auto c = conversation(n);
        std::vector<store::PathMessage> messages;
        bj::array items;
        for (std::size_t i = 0; i < n; ++i) {
            messages.push_back(message(i));
            items.push_back(path_message_json(messages.back()));
        }
        auto tree = conversation_json(c);
        tree["messages"] = std::move(items);
        EXPECT_EQ(
            written([&](json::Writer& w) { write_conversation_with_messages(w, c, messages); }),
            bj::serialize(tree)
        ) << n
          << " messages";
    }
}

}  // namespace
}  // namespace parley::conversations
