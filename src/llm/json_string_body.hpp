// A JSON string's text from its body, the bytes between its quotes, without a parser (issue 14:
// the OpenAI decoder's shortcut for a chunk that repeats the last one's envelope around another
// text). Pure code.
#pragma once

#include <string>
#include <string_view>

namespace parley::llm {

// True when `body` is the body of a JSON string that Boost.JSON 1.81's parser accepts, with its
// text (the escapes of RFC 8259 undone) in `text`: well-formed UTF-8 (common/strings'
// is_valid_utf8), no control character, every quote and backslash escaped, and a \u escape's
// surrogates only as a high one followed by a low one. Boost rejects a lone surrogate too; this
// answers false for it, as for anything else it does not take. On false `text` is unspecified.
bool json_string_body_text(std::string_view body, std::string& text);

}  // namespace parley::llm
