// fetch_internal_knowledge: the knowledge base's document for a topic.
#include <boost/json/array.hpp>

#include "common/strings.hpp"
#include "tools/builtins.hpp"
#include "tools/knowledge_base.hpp"
#include "tools/registry.hpp"

namespace parley::tools {

namespace {

constexpr std::size_t kMaxTopicLength = 200;

class KnowledgeTool final : public Tool {
public:
    explicit KnowledgeTool(std::shared_ptr<const KnowledgeBase> knowledge)
        : knowledge_(std::move(knowledge)) {
        spec_.name = std::string(kKnowledgeTool);
        spec_.description =
            "Fetches a document from the internal knowledge base on a topic (for example python, "
            "async, websocket, llm). Use it when the user asks what something is or to look "
            "something up. If no document matches, the error lists the available topics.";
        spec_.parameters =
            R"({"type":"object","properties":{"topic":{"type":"string","description":)"
            R"("The topic to look up, e.g. \"python\""}},"required":["topic"]})";
    }

    const llm::ToolSpec& spec() const noexcept override { return spec_; }

    boost::asio::awaitable<ToolResult> run(
        const ToolContext& /*ctx*/, const boost::json::object& arguments
    ) const override {
        const auto topic = string_argument(arguments, "topic", kMaxTopicLength);
        if (!topic) {
            co_return ToolResult::failure(topic.error().message);
        }
        const auto hit = knowledge_->find(*topic);
        if (!hit) {
            boost::json::array available;
            for (const auto& t : knowledge_->topics()) {
                available.emplace_back(t);
            }
            boost::json::object extra;
            extra["available_topics"] = std::move(available);
            co_return ToolResult::failure(
                "the knowledge base has nothing on \"" + *topic + "\"", std::move(extra)
            );
        }
        const auto& doc = *hit->document;
        boost::json::object body;
        body["topic"] = doc.topic;
        const auto content = utf8_prefix(doc.content, kMaxKnowledgeResultBytes);
        body["content"] = content;
        body["source"] = doc.source;
        body["match"] = hit->match == KnowledgeMatch::topic ? "topic" : "full_text";
        if (content.size() < doc.content.size()) {
            body["truncated"] = true;
        }
        co_return ToolResult::success(body);
    }

private:
    std::shared_ptr<const KnowledgeBase> knowledge_;
    llm::ToolSpec spec_;
};

}  // namespace

std::unique_ptr<Tool> make_knowledge_tool(std::shared_ptr<const KnowledgeBase> knowledge) {
    if (!knowledge) {
        knowledge = std::make_shared<const KnowledgeBase>(KnowledgeBase::builtin());
    }
    return std::make_unique<KnowledgeTool>(std::move(knowledge));
}

}  // namespace parley::tools
