// The fast path of the OpenAI stream decoder (issue 14): almost every chunk of a streamed answer
// has one shape, a single choice whose delta carries a `content` string, with nothing else that
// means anything (`finish_reason`, `usage`, reasoning, refusal and tool calls all null or
// absent). Parsing such a chunk into a Boost.JSON tree cost about 7k of the 12.5k instructions
// the decoder spent on it; this scan reads it with Boost.JSON's own validating parser and no
// tree, so it accepts exactly the documents the full parse accepts, and answers "other" for
// anything it does not fully understand, for which the decoder parses the chunk in full. Pure
// code: no I/O, no Asio.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace parley::llm {

// What scan_plain_chunk found.
enum class PlainChunk {
    other,       // not the plain shape (or not JSON): the chunk must be parsed in full
    no_content,  // the plain shape without a `content` string (absent or null): no events
    content,     // the plain shape with a `content` string, unescaped into the out-parameter
};

// Scans one chunk's data for the plain text shape: a JSON object whose `choices` (null or an
// array of at most one object) holds a choice with `index` 0 (or absent/null), `finish_reason`
// null or absent, and a `delta` (null or an object) whose `content` is a string, null or absent
// and whose `reasoning`, `reasoning_content`, `refusal` and `tool_calls` are null or absent; the
// chunk's `usage`, `error` and `x_groq` are null or absent and its `object` is not "error". Any
// other field, at any depth, is skipped as the full decoder ignores it. A key that matters
// appearing twice in one object is "other" (the full parse keeps the last one). On `content`,
// `content` holds the text; on the other outcomes its value is unspecified. Never throws on bad
// input.
PlainChunk scan_plain_chunk(std::string_view data, std::string& content);

// scan_plain_chunk for the chunks of one stream, which nearly all repeat one envelope (the same
// id, created, model and choice) around a different text. Once a chunk has scanned as `content`
// with its text written as it is (no escape), the bytes before and after that text are kept; a
// later chunk made of the same bytes around another string body that Boost.JSON accepts whole
// (json_string_body_text: that string alone through Boost.JSON's parser) is the same document
// with another value for that one string, so it is `content` without parsing the chunk. Anything
// else (another envelope) is scanned in full, and a chunk whose text had an escape leaves the
// kept envelope as it was. The outcomes are scan_plain_chunk's for every
// input (the tests compare them).
class PlainChunkScanner {
public:
    PlainChunk scan(std::string_view data, std::string& content);

    // How many chunks took the shortcut: for the tests.
    std::uint64_t shortcuts() const noexcept { return shortcuts_; }

private:
    void remember(std::string_view data, std::size_t at, std::size_t size);

    std::string head_;  // up to and including the text's opening quote; empty: none kept
    std::string tail_;  // from the text's closing quote
    std::uint64_t shortcuts_ = 0;
};

}  // namespace parley::llm
