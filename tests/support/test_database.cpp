#include "support/test_database.hpp"

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>

#include <libpq-fe.h>
#include <unistd.h>

#include "common/ids.hpp"
#include "support/run_awaitable.hpp"

namespace parley::testing {

namespace fs = std::filesystem;

std::string backend_name(Backend backend) {
    return backend == Backend::sqlite ? "sqlite" : "postgres";
}

void PrintTo(Backend backend, std::ostream* out) {
    *out << backend_name(backend);
}

std::vector<Backend> all_backends() {
    return {Backend::sqlite, Backend::postgres};
}

std::string backend_param_name(const ::testing::TestParamInfo<Backend>& info) {
    return backend_name(info.param);
}

std::optional<std::string> postgres_server_url() {
    if (const char* url = std::getenv("PARLEY_TEST_DATABASE_URL"); url != nullptr && *url != 0) {
        return std::string(url);
    }
    const char* file = std::getenv("PARLEY_TEST_DATABASE_URL_FILE");
    if (file == nullptr || *file == 0) {
        return std::nullopt;
    }
    std::ifstream in(file);
    std::string url;
    if (!(in >> url) || url.empty()) {
        throw std::runtime_error(
            std::string("PARLEY_TEST_DATABASE_URL_FILE names ") + file +
            ", which holds no URL: did scripts/pg-temp start fail?"
        );
    }
    return url;
}

std::string with_database(const std::string& url, const std::string& database) {
    // postgresql://[userinfo@][host][:port][/dbname][?params]
    const auto scheme_end = url.find("://");
    const auto authority = scheme_end == std::string::npos ? 0 : scheme_end + 3;
    const auto query = url.find('?', authority);
    const auto path = url.find('/', authority);
    const auto authority_end =
        path != std::string::npos && (query == std::string::npos || path < query) ? path : query;
    std::string out =
        url.substr(0, authority_end == std::string::npos ? url.size() : authority_end);
    out += "/" + database;
    if (query != std::string::npos) {
        out += url.substr(query);
    }
    return out;
}

std::string admin_query(const std::string& url, const std::string& sql) {
    PGconn* c = PQconnectdb(url.c_str());
    std::string out;
    if (PQstatus(c) != CONNECTION_OK) {
        ADD_FAILURE() << "cannot connect to " << url << ": " << PQerrorMessage(c);
        PQfinish(c);
        return out;
    }
    PQsetNoticeProcessor(
        c, [](void*, const char*) {}, nullptr
    );
    PGresult* r = PQexec(c, sql.c_str());
    const auto status = PQresultStatus(r);
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        ADD_FAILURE() << sql << ": " << PQresultErrorMessage(r);
    } else if (PQnfields(r) > 0) {
        for (int i = 0; i < PQntuples(r); ++i) {
            out += (i == 0 ? "" : "\n") + std::string(PQgetvalue(r, i, 0));
        }
    }
    PQclear(r);
    PQfinish(c);
    return out;
}

namespace {

std::string unique_suffix() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info != nullptr ? info->name() : "none";
    for (auto& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) {
            ch = '_';
        }
    }
    return std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" + name.substr(0, 30);
}

}  // namespace

TestDatabase::TestDatabase(Backend backend) : backend_(backend) {
    if (backend == Backend::sqlite) {
        dir_ = fs::temp_directory_path() / ("parley-store-test-" + unique_suffix());
        fs::remove_all(dir_);
        available_ = true;
        return;
    }
    const auto server = postgres_server_url();
    if (!server) {
        return;
    }
    server_url_ = *server;
    database_ = "parley_test_" + unique_suffix();
    for (auto& ch : database_) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    admin_query(server_url_, "CREATE DATABASE " + database_);
    available_ = !::testing::Test::HasFailure();
}

TestDatabase::~TestDatabase() {
    if (backend_ == Backend::sqlite) {
        fs::remove_all(dir_);
    } else if (available_) {
        admin_query(server_url_, "DROP DATABASE IF EXISTS " + database_ + " WITH (FORCE)");
    }
}

DatabaseUrl TestDatabase::url() const {
    if (backend_ == Backend::sqlite) {
        return {DatabaseUrl::Kind::sqlite, (dir_ / "parley.db").string()};
    }
    return {DatabaseUrl::Kind::postgres, with_database(server_url_, database_)};
}

std::unique_ptr<Store> TestDatabase::open(async::BlockingPool& pool, StoreOptions options) const {
    auto opened = store::open_store(url(), pool, options);
    if (!opened) {
        ADD_FAILURE() << "open_store: " << opened.error().message << " " << opened.error().detail;
        return nullptr;
    }
    return std::move(*opened);
}

std::optional<store::Conversation> seed_conversation(Store& store, TimePoint at) {
    const store::User user{new_uuid_v7(), new_uuid_v7() + "@example.com", "hash", at};
    if (const auto made = run_awaitable(store.create_user(user)); !made) {
        ADD_FAILURE() << "create_user: " << made.error().detail;
        return std::nullopt;
    }
    store::Conversation c;
    c.id = new_uuid_v7();
    c.user_id = user.id;
    c.model = "mock";
    c.created_at = at;
    c.updated_at = at;
    if (const auto made = run_awaitable(store.create_conversation(c)); !made) {
        ADD_FAILURE() << "create_conversation: " << made.error().detail;
        return std::nullopt;
    }
    return c;
}

void expect_same_message(const store::Message& got, const store::Message& want) {
    EXPECT_EQ(got.id, want.id);
    EXPECT_EQ(got.conversation_id, want.conversation_id);
    EXPECT_EQ(got.parent_id, want.parent_id);
    EXPECT_EQ(got.role, want.role);
    EXPECT_EQ(got.content, want.content);
    EXPECT_EQ(got.thinking, want.thinking);
    EXPECT_EQ(got.status, want.status);
    EXPECT_EQ(got.model, want.model);
    EXPECT_EQ(got.provider, want.provider);
    EXPECT_EQ(got.finish_reason, want.finish_reason);
    EXPECT_EQ(got.token_count, want.token_count);
    EXPECT_EQ(got.input_tokens, want.input_tokens);
    EXPECT_EQ(got.output_tokens, want.output_tokens);
    EXPECT_EQ(got.cost_micros, want.cost_micros);
    EXPECT_EQ(got.latency_ms, want.latency_ms);
    EXPECT_EQ(got.ttft_ms, want.ttft_ms);
    EXPECT_EQ(got.metadata, want.metadata);
    EXPECT_EQ(got.created_at, want.created_at);
}

}  // namespace parley::testing
