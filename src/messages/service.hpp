// Sending a message and getting the model's answer (non-streaming): validation, the user message
// stored first, the context window, the provider call through the router (fallback, retries,
// timeouts), cost and token accounting, the assistant message stored complete or as an error, and
// the background auto-title. No HTTP types here.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/error.hpp"
#include "common/principal.hpp"
#include "common/time.hpp"
#include "conversations/service.hpp"
#include "llm/router.hpp"
#include "store/store.hpp"

namespace parley::messages {

struct MessageOptions {
    std::size_t max_content_chars = 100'000;
    std::int64_t context_margin_tokens = 256;  // slack for the estimate and the chat framing
    std::int64_t default_max_tokens = 1024;
};

struct NewMessage {
    std::string content;
    std::optional<bool> thinking;
    std::optional<std::string> model;
    std::optional<double> temperature;
    std::optional<std::int64_t> max_tokens;
};

// The most recent messages that fit `budget` tokens (estimated), oldest first, whole messages
// only; error messages are skipped. `newest_first` is what Store::recent_messages returns.
std::vector<llm::ChatMessage> fit_context(
    const std::vector<store::Message>& newest_first, std::int64_t budget
);

// A title from a model's answer: the first line, quotes and markdown stripped, at most 60
// characters cut at a word; empty when nothing usable remains.
std::string clean_title(std::string_view answer);

// The first words of a message, at most 60 characters: the title when no model gives one.
std::string title_from_message(std::string_view content);

class MessageService {
public:
    MessageService(
        store::Store& store,
        conversations::ConversationService& conversations,
        llm::ModelRouter& router,
        MessageOptions options,
        Clock clock = system_now
    );

    // Stores the user's message, asks the model and stores its answer, which it returns.
    // Errors: not_found / permission (the conversation), unprocessable (content, model, settings),
    // upstream (502: the provider failed or answered an error), overloaded (503: every model in the
    // chain failed) — in both cases the user message stays and an assistant message with status
    // "error" (or "partial", with what arrived) is recorded.
    boost::asio::awaitable<Result<store::Message>> send(
        const Principal& who, std::string_view conversation_id, NewMessage message
    );

private:
    boost::asio::awaitable<void> auto_title(
        std::string conversation_id, std::string model_id, std::string first_message
    );

    store::Store& store_;
    conversations::ConversationService& conversations_;
    llm::ModelRouter& router_;
    MessageOptions options_;
    Clock clock_;
};

}  // namespace parley::messages
