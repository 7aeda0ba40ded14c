// Fills a Parley database for bench/search.sh: 100 users; the first has MESSAGES messages of
// generated prose (100 per conversation), the others a few hundred each, so that search has other
// users' rows to skip. Deterministic (fixed seed). Writes through the Store interface, so the FTS5
// triggers and PostgreSQL's generated columns do their real work. Prints the first user's email.
//
//   parley_search_seed DATABASE_URL [MESSAGES]
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "async/blocking_pool.hpp"
#include "auth/passwords.hpp"
#include "common/ids.hpp"
#include "store/store.hpp"

namespace {

using namespace parley;

// Words people write about software and everyday things; drawn with a Zipf-like skew so that some
// are everywhere and others rare, like prose.
const std::vector<std::string> kWords = {
    "the",       "a",        "to",           "of",        "and",      "in",       "is",
    "it",        "you",      "that",         "for",       "on",       "with",     "as",
    "this",      "be",       "can",          "how",       "what",     "server",   "stream",
    "streaming", "request",  "response",     "model",     "token",    "tokens",   "answer",
    "question",  "database", "index",        "search",    "query",    "python",   "rust",
    "async",     "await",    "socket",       "websocket", "thread",   "memory",   "cache",
    "latency",   "error",    "retry",        "timeout",   "client",   "browser",  "page",
    "button",    "message",  "conversation", "history",   "summary",  "tool",     "tools",
    "calling",   "function", "result",       "garden",    "kitchen",  "recipe",   "coffee",
    "morning",   "evening",  "travel",       "train",     "ticket",   "weather",  "rain",
    "sun",       "mountain", "river",        "forest",    "book",     "chapter",  "story",
    "music",     "guitar",   "piano",        "song",      "movie",    "scene",    "camera",
    "photo",     "color",    "paint",        "design",    "layout",   "mobile",   "desktop",
    "screen",    "keyboard", "mouse",        "network",   "packet",   "router",   "cloud",
    "deploy",    "release",  "version",      "update",    "install",  "package",  "library",
    "module",    "compile",  "build",        "test",      "debug",    "profile",  "benchmark",
    "measure",   "report",   "chart",        "budget",    "cost",     "price",    "invoice",
    "customer",  "support",  "ticketing",    "email",     "calendar", "meeting",  "schedule",
    "project",   "deadline", "team",         "review",    "comment",  "feedback", "performance",
    "security",  "password", "login",        "account",   "profile",  "settings", "theme",
    "dark",      "light",    "language",     "translate", "english",  "french",   "german",
    "spanish",   "kiwi",     "papaya",       "mango",     "banana",   "apple",    "orange",
    "lemon",     "pizza",    "pasta",        "bread",     "cheese",
};

std::string prose(std::mt19937_64& rng) {
    std::uniform_int_distribution<int> length(10, 60);
    // Rank r drawn with probability ~ 1/(r+1): the first words are common, the last rare.
    static const std::vector<double> weights = [] {
        std::vector<double> w;
        for (std::size_t i = 0; i < kWords.size(); ++i) {
            w.push_back(1.0 / static_cast<double>(i + 1));
        }
        return w;
    }();
    std::discrete_distribution<std::size_t> pick(weights.begin(), weights.end());
    std::string out;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
        if (!out.empty()) {
            out += ' ';
        }
        out += kWords[pick(rng)];
    }
    out += '.';
    return out;
}

boost::asio::awaitable<void> fill(store::Store* s, long messages, std::string* email, int* status) {
    std::mt19937_64 rng(42);
    const auto base = std::chrono::system_clock::now() - std::chrono::hours(24 * 365);
    long tick = 0;
    const auto password = auth::hash_password("BenchPass123");
    for (int u = 0; u < 100; ++u) {
        store::User user{
            new_uuid_v7(), "search" + std::to_string(u) + "@example.com", password, base};
        if (!co_await s->create_user(user)) {
            *status = 1;
            co_return;
        }
        if (u == 0) {
            *email = user.email;
        }
        const long own = u == 0 ? messages : 500;
        store::Conversation c;
        for (long i = 0; i < own; ++i) {
            const auto at = base + std::chrono::milliseconds(++tick * 10);
            if (i % 100 == 0) {
                c = store::Conversation{};
                c.id = new_uuid_v7();
                c.user_id = user.id;
                c.title = "Conversation " + std::to_string(i / 100);
                c.model = "parley-mock";
                c.created_at = at;
                c.updated_at = at;
                if (!co_await s->create_conversation(c)) {
                    *status = 1;
                    co_return;
                }
            }
            store::Message m;
            m.id = new_uuid_v7();
            m.conversation_id = c.id;
            m.role = i % 2 == 0 ? "user" : "assistant";
            m.content = prose(rng);
            m.created_at = at;
            if (auto r = co_await s->insert_message(m); !r) {
                std::fprintf(stderr, "insert failed: %s\n", r.error().detail.c_str());
                *status = 1;
                co_return;
            }
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: parley_search_seed DATABASE_URL [MESSAGES]\n");
        return 2;
    }
    const long messages = argc > 2 ? std::stol(argv[2]) : 100'000;
    async::BlockingPool pool(2);
    auto url = store::parse_database_url(argv[1]);
    if (!url) {
        std::fprintf(stderr, "%s\n", url.error().message.c_str());
        return 2;
    }
    auto s = store::open_store(*url, pool);
    if (!s || !(*s)->migrate()) {
        std::fprintf(stderr, "cannot open or migrate the database\n");
        return 1;
    }
    std::string email;
    int status = 0;
    boost::asio::io_context ctx(1);
    boost::asio::co_spawn(ctx, fill(s->get(), messages, &email, &status), boost::asio::detached);
    ctx.run();
    pool.stop();
    if (status == 0) {
        std::printf("%s\n", email.c_str());
    }
    return status;
}
