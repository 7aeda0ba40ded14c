// The knowledge base and fetch_internal_knowledge: topic normalisation, lookup order (topic,
// then full text, then not found with the topics), the built-in documents and a KNOWLEDGE_DIR
// overriding and extending them.
#include "tools/knowledge_base.hpp"

#include <fstream>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>
#include <unistd.h>

#include "support/run_awaitable.hpp"
#include "tools/builtins.hpp"

namespace parley::tools {
namespace {

namespace fs = std::filesystem;
using testing::run_awaitable;

TEST(NormalizeTopicTest, Table) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"python", "python"},
        {"Python", "python"},
        {"  python?  ", "python"},
        {"PYTHON!!!", "python"},
        {"the websockets", "websocket"},
        {"A WebSocket", "websocket"},
        {"Web Sockets", "websocket"},
        {"web-socket", "websocket"},
        {"LLMs", "llm"},
        {"an LLM", "llm"},
        {"async", "async"},
        {"class", "class"},
        {"status", "status"},
        {"analysis", "analysis"},
        {"libraries", "library"},
        {"addresses", "address"},
        {"the", ""},
        {"?!", ""},
        {"", ""},
        {"caf\xC3\xA9s", "caf\xC3\xA9"},
    };
    for (const auto& [in, want] : cases) {
        EXPECT_EQ(normalize_topic(in), want) << in;
    }
}

TEST(KnowledgeBaseTest, BuiltinTopics) {
    const auto kb = KnowledgeBase::builtin();
    EXPECT_EQ(kb.topics(), (std::vector<std::string>{"async", "llm", "python", "websocket"}));
    for (const auto* doc : kb.documents()) {
        EXPECT_EQ(doc->source, "builtin");
        EXPECT_GT(doc->content.size(), 500U) << doc->topic;
        EXPECT_EQ(doc->content.front(), '#') << doc->topic;
    }
}

TEST(KnowledgeBaseTest, LookupByNormalisedTopic) {
    const auto kb = KnowledgeBase::builtin();
    for (const auto* q : {"Python", "python?", " PYTHON ", "the python"}) {
        const auto hit = kb.find(q);
        ASSERT_TRUE(hit) << q;
        EXPECT_EQ(hit->document->topic, "python") << q;
        EXPECT_EQ(hit->match, KnowledgeMatch::topic) << q;
    }
    const auto ws = kb.find("the websockets");
    ASSERT_TRUE(ws);
    EXPECT_EQ(ws->document->topic, "websocket");
    EXPECT_EQ(ws->match, KnowledgeMatch::topic);
    const auto llms = kb.find("LLMs");
    ASSERT_TRUE(llms);
    EXPECT_EQ(llms->document->topic, "llm");
}

TEST(KnowledgeBaseTest, LookupByFullText) {
    const auto kb = KnowledgeBase::builtin();
    const std::pair<const char*, const char*> cases[] = {
        {"async programming", "async"},  // the seed's "Look up async programming"
        {"What is Python?", "python"},   // question words are not topics
        {"coroutines and the event loop", "async"},
        {"large language models", "llm"},
        {"Sec-WebSocket-Accept handshake", "websocket"},
        {"tool calling", "llm"},
        {"GIL", "python"},
    };
    for (const auto& [q, topic] : cases) {
        const auto hit = kb.find(q);
        ASSERT_TRUE(hit) << q;
        EXPECT_EQ(hit->document->topic, topic) << q;
        EXPECT_EQ(hit->match, KnowledgeMatch::full_text) << q;
    }
}

TEST(KnowledgeBaseTest, NotFound) {
    const auto kb = KnowledgeBase::builtin();
    EXPECT_FALSE(kb.find("quantum chromodynamics"));
    EXPECT_FALSE(kb.find("what is the"));  // stop words only
    EXPECT_FALSE(kb.find(""));
    EXPECT_FALSE(kb.find("???"));
    // Fewer than half of the words found.
    EXPECT_FALSE(kb.find("python gardening recipes tulips"));
}

class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = fs::temp_directory_path() /
                ("parley-kb-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }

    ~TempDir() { fs::remove_all(path_); }

    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const fs::path& path() const { return path_; }

    void write(const std::string& name, const std::string& text) const {
        std::ofstream(path_ / name, std::ios::binary) << text;
    }

private:
    fs::path path_;
};

TEST(KnowledgeBaseTest, DirectoryAddsAndOverrides) {
    TempDir dir;
    dir.write("Python.md", "# Our Python\nWe use Python 3.12 with uv.\n");
    dir.write("rate-limits.md", "# Rate limits\nRequests per minute per user: 60.\n");
    dir.write("notes.txt", "not markdown");
    dir.write(".hidden.md", "hidden");
    dir.write("bad-utf8.md", "caf\xC3 broken");
    dir.write("the.md", "no topic in the name");
    dir.write("python.md", "# a second python: loses to Python.md (sorted first)");
    dir.write("big.md", std::string(kMaxKnowledgeFileBytes + 1, 'x'));
    fs::create_directory(dir.path() / "folder.md");

    const auto kb = KnowledgeBase::load(dir.path());
    ASSERT_TRUE(kb) << kb.error().message;
    EXPECT_EQ(
        kb->topics(),
        (std::vector<std::string>{"async", "llm", "Python", "rate-limits", "websocket"})
    );

    const auto py = kb->find("python");
    ASSERT_TRUE(py);
    EXPECT_EQ(py->document->source, "Python.md");
    EXPECT_EQ(py->document->topic, "Python");
    EXPECT_NE(py->document->content.find("uv"), std::string::npos);

    const auto rl = kb->find("Rate Limits");
    ASSERT_TRUE(rl);
    EXPECT_EQ(rl->document->source, "rate-limits.md");
    EXPECT_EQ(rl->match, KnowledgeMatch::topic);

    // The built-ins the folder does not override are still there.
    const auto ws = kb->find("websocket");
    ASSERT_TRUE(ws);
    EXPECT_EQ(ws->document->source, "builtin");

    // Skipped, and said so.
    const auto& w = kb->warnings();
    const auto warned = [&w](std::string_view file) {
        for (const auto& line : w) {
            if (line.starts_with(file)) {
                return true;
            }
        }
        return false;
    };
    EXPECT_TRUE(warned("bad-utf8.md: not valid UTF-8"));
    EXPECT_TRUE(warned("big.md: larger than"));
    EXPECT_TRUE(warned("the.md: its name is no topic"));
    EXPECT_TRUE(warned("python.md: another file already has the topic"));
    EXPECT_TRUE(warned("folder.md: not a regular file"));
    EXPECT_FALSE(warned(".hidden.md"));
    EXPECT_FALSE(warned("notes.txt"));
}

TEST(KnowledgeBaseTest, FullTextTiesGoToTheFirstTopic) {
    TempDir dir;
    dir.write("beta.md", "zebras and lions");
    dir.write("alpha.md", "lions and zebras");
    const auto kb = KnowledgeBase::load(dir.path());
    ASSERT_TRUE(kb);
    for (int i = 0; i < 3; ++i) {
        const auto hit = kb->find("zebra");
        ASSERT_TRUE(hit);
        EXPECT_EQ(hit->document->topic, "alpha");
    }
    // A topic word outweighs a content word.
    const auto beta = kb->find("beta lions");
    ASSERT_TRUE(beta);
    EXPECT_EQ(beta->document->topic, "beta");
}

TEST(KnowledgeBaseTest, MissingDirectoryIsAnError) {
    const auto kb = KnowledgeBase::load("/nonexistent/parley/knowledge");
    ASSERT_FALSE(kb);
    EXPECT_EQ(kb.error().type, ErrorType::invalid_request);
    EXPECT_NE(kb.error().message.find("is not a directory"), std::string::npos);
}

// --- the tool

ToolResult fetch(const std::shared_ptr<const KnowledgeBase>& kb, std::string arguments) {
    const auto tool = make_knowledge_tool(kb);
    const auto args = boost::json::parse(arguments).as_object();
    return run_awaitable(tool->run(ToolContext{}, args));
}

TEST(KnowledgeToolTest, Found) {
    const auto r = fetch(nullptr, R"({"topic": "Python"})");
    ASSERT_TRUE(r.ok) << r.content;
    const auto body = boost::json::parse(r.content).as_object();
    EXPECT_EQ(body.at("topic").as_string(), "python");
    EXPECT_EQ(body.at("source").as_string(), "builtin");
    EXPECT_EQ(body.at("match").as_string(), "topic");
    EXPECT_TRUE(body.at("content").as_string().starts_with("# Python"));
    EXPECT_FALSE(body.contains("truncated"));
}

TEST(KnowledgeToolTest, FullTextMatchSaysSo) {
    const auto r = fetch(nullptr, R"({"topic": "async programming"})");
    ASSERT_TRUE(r.ok) << r.content;
    const auto body = boost::json::parse(r.content).as_object();
    EXPECT_EQ(body.at("topic").as_string(), "async");
    EXPECT_EQ(body.at("match").as_string(), "full_text");
}

TEST(KnowledgeToolTest, NotFoundListsTheTopics) {
    const auto r = fetch(nullptr, R"({"topic": "gardening"})");
    EXPECT_FALSE(r.ok);
    const auto body = boost::json::parse(r.content).as_object();
    EXPECT_EQ(body.at("error").as_string(), "the knowledge base has nothing on \"gardening\"");
    EXPECT_EQ(
        boost::json::serialize(body.at("available_topics")),
        R"(["async","llm","python","websocket"])"
    );
}

TEST(KnowledgeToolTest, ArgumentErrors) {
    for (const auto* args : {"{}", R"({"topic": 3})", R"({"topic": ""})", R"({"topic": null})"}) {
        const auto r = fetch(nullptr, args);
        EXPECT_FALSE(r.ok) << args;
        EXPECT_NE(r.content.find("`topic`"), std::string::npos) << r.content;
    }
    const auto r = fetch(nullptr, R"({"topic": ")" + std::string(201, 'a') + "\"}");
    EXPECT_FALSE(r.ok);
    EXPECT_NE(r.content.find("longer than 200"), std::string::npos);
}

TEST(KnowledgeToolTest, LongDocumentsAreTruncated) {
    TempDir dir;
    std::string text = "# Long\n";
    while (text.size() < kMaxKnowledgeResultBytes + 100) {
        text += "caf\xC3\xA9 ";  // multi-byte characters: the cut must not split one
    }
    dir.write("long.md", text);
    auto kb = KnowledgeBase::load(dir.path());
    ASSERT_TRUE(kb);
    const auto r =
        fetch(std::make_shared<const KnowledgeBase>(std::move(*kb)), R"({"topic": "long"})");
    ASSERT_TRUE(r.ok);
    const auto body = boost::json::parse(r.content).as_object();
    EXPECT_TRUE(body.at("truncated").as_bool());
    EXPECT_LE(body.at("content").as_string().size(), kMaxKnowledgeResultBytes);
    EXPECT_GT(body.at("content").as_string().size(), kMaxKnowledgeResultBytes - 8);
}

}  // namespace
}  // namespace parley::tools
