// Framing for newline-delimited JSON streams (Ollama's /api/chat and /api/generate): bytes go in
// split anywhere, complete lines come out without their line end (LF or CRLF), blank lines
// skipped. Only framing: the lines are not parsed, validated or decoded. Memory is bounded: a line
// past the configured maximum fails the reader, which then ignores its input. Pure code (no I/O);
// one reader per stream, not thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::net {

class NdjsonReader {
public:
    // The default bound on one line, in bytes.
    static constexpr std::size_t kDefaultMaxLine = std::size_t{1} << 20;

    // A reader for one stream; no line (without its line end) may exceed `max_line` bytes.
    explicit NdjsonReader(std::size_t max_line = kDefaultMaxLine);

    // Appends the next bytes of the stream; returns the lines they complete, in order, without
    // the LF or CRLF that ended them. Blank lines (nothing but spaces, tabs and CRs) are skipped;
    // a lone CR elsewhere is kept. After a failure (see failed()) returns the lines completed
    // before it, then nothing for any input.
    std::vector<std::string> feed(std::string_view bytes);

    // Ends the stream: returns a final line that had no line end, unless blank (a trailing CR is
    // dropped as if an LF had followed). The reader may then be fed a new stream. Nothing after a
    // failure.
    std::optional<std::string> finish();

    // Whether a line exceeded the maximum; the reader then ignores all input.
    bool failed() const noexcept { return !error_.empty(); }

    // What failed, for the log; empty when failed() is false.
    std::string_view error() const noexcept { return error_; }

private:
    void take_line(std::string_view line, std::vector<std::string>& out);
    void fail();

    std::size_t max_line_;
    std::string line_;  // the unterminated line carried over between feeds
    std::string error_;
};

}  // namespace parley::net
