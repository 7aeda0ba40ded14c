// Every route's request DTO decoder (auth/requests, conversations/requests, messages/requests) on
// any JSON object, as the routes call them after http::read_json_object. The first input byte
// picks the decoder. A bad body is refused with a 400 or 422 (an ErrorException or an error
// Result, as the decoder reports it), never a crash or another exception; what is accepted is
// within the bounds the decoder promises.
#include <string>

#include "auth/requests.hpp"
#include "common/json.hpp"
#include "common/principal.hpp"
#include "common/strings.hpp"
#include "conversations/requests.hpp"
#include "fuzz_input.hpp"
#include "messages/requests.hpp"

using parley::fuzz::check;
namespace bj = boost::json;
namespace json = parley::json;

namespace {

void check_refusal(const parley::Error& e) {
    check(
        e.type == parley::ErrorType::unprocessable || e.type == parley::ErrorType::invalid_request,
        "a body refused with a status other than 400 or 422"
    );
    check(!e.message.empty(), "a refusal without a message");
}

void check_tools(const std::optional<std::vector<std::string>>& tools) {
    if (tools) {
        check(tools->size() <= 16, "more than 16 tools");
        for (std::size_t i = 0; i < tools->size(); ++i) {
            check(!(*tools)[i].empty() && (*tools)[i].size() <= 64, "a bad tool name");
            for (std::size_t j = 0; j < i; ++j) {
                check((*tools)[i] != (*tools)[j], "a tool named twice");
            }
        }
    }
}

void check_metadata(const std::string& text) {
    const auto v = json::parse(text, 64);
    check(v && v->is_object() && text.size() <= 16 * 1024, "metadata that is not a small object");
}

void decode(std::uint8_t which, const bj::object& body) {
    namespace auth = parley::auth;
    namespace conv = parley::conversations;
    namespace msg = parley::messages;
    switch (which % 7) {
        case 0: {
            const auto c = conv::new_conversation_of(body);
            check(!c.title || c.title->size() <= 200, "a title past 200 characters");
            check_metadata(c.metadata);
            check_tools(c.settings.tools);
            break;
        }
        case 1: {
            const auto p = conv::conversation_patch_of(body);
            check(
                !p.title || !*p.title || (*p.title)->size() <= 200, "a title past 200 characters"
            );
            if (p.metadata) {
                check_metadata(*p.metadata);
            }
            check_tools(p.tools);
            break;
        }
        case 2:
            if (auto m = msg::new_message_of(body, "content"); !m) {
                check_refusal(m.error());
            }
            break;
        case 3:
            if (auto p = msg::prompt_of(body); p) {
                const auto chars = parley::utf8_length(*p);
                check(chars >= 1 && chars <= msg::kMaxPromptChars, "a prompt out of bounds");
            } else {
                check_refusal(p.error());
            }
            break;
        case 4:
            if (auto c = auth::credentials_of(body); !c) {
                check_refusal(c.error());
            }
            break;
        case 5:
            if (auto t = auth::refresh_token_of(body); t) {
                check(!t->empty() && t->size() <= 512, "a refresh token out of bounds");
            } else {
                check_refusal(t.error());
            }
            break;
        default:
            if (auto k = auth::api_key_request_of(body); k) {
                check(k->scopes != 0 && k->scopes <= 7, "API key scopes out of range");
            } else {
                check_refusal(k.error());
            }
            break;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    parley::fuzz::Input in(data, size);
    const auto which = in.byte();
    const auto text = in.rest();
    try {
        if (which >= 128) {
            // A WebSocket frame: the JSON parse is the decoder's own.
            auto m = parley::messages::frame_message_of(std::string(text), 16, (which & 1) != 0);
            if (!m) {
                check_refusal(m.error());
            }
            return 0;
        }
        // As http::read_json_object parses a request body.
        auto v = json::parse(text, 64, json::DuplicateKeys::refuse);
        if (v && v->is_object()) {
            decode(which, v->as_object());
        }
    } catch (const parley::ErrorException& e) {
        check_refusal(e.error());
    }
    return 0;
}
