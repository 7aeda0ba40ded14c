#include "app/routes.hpp"

#include <set>

#include <boost/json/parse.hpp>
#include <gtest/gtest.h>

#include "system/assets.hpp"

namespace parley::app {
namespace {

std::string lower(std::string_view m) {
    std::string out(m);
    for (auto& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return out;
}

// Every route in the table is in the OpenAPI document that the server serves, and the reverse.
TEST(RoutesTest, RouteTableAndOpenApiAgree) {
    Services services;
    const auto routes = make_routes(services);
    const auto spec_text = assets::find_asset("/openapi.json");
    ASSERT_TRUE(spec_text.has_value());
    const auto spec = boost::json::parse(spec_text->data).as_object();
    const auto& paths = spec.at("paths").as_object();

    std::set<std::pair<std::string, std::string>> in_table;
    for (const auto& r : routes) {
        const auto method = lower(http::method_name(r.method));
        in_table.emplace(r.path, method);
        const auto* item = paths.if_contains(r.path);
        ASSERT_NE(item, nullptr) << r.path << " is in the route table but not in api/openapi.yaml";
        EXPECT_TRUE(item->as_object().contains(method))
            << method << " " << r.path << " is in the route table but not in api/openapi.yaml";
    }
    static const std::set<std::string> kMethods = {
        "get", "post", "put", "patch", "delete", "options", "head"};
    for (const auto& [path, item] : paths) {
        for (const auto& [method, op] : item.as_object()) {
            if (kMethods.contains(std::string(method))) {
                EXPECT_TRUE(in_table.contains({std::string(path), std::string(method)}))
                    << method << " " << path
                    << " is in api/openapi.yaml but not in the route table";
            }
        }
    }
}

TEST(RoutesTest, NoDuplicateRoutes) {
    Services services;
    std::set<std::pair<std::string, int>> seen;
    for (const auto& r : make_routes(services)) {
        EXPECT_TRUE(seen.emplace(r.path, static_cast<int>(r.method)).second) << r.path;
    }
}

// `parley routes` prints this: one entry per route, in table order, with its access class.
TEST(RoutesTest, RouteTableJsonListsEveryRouteWithItsAccess) {
    Services services;
    const auto routes = make_routes(services);
    const auto printed = boost::json::parse(route_table_json()).as_array();
    ASSERT_EQ(printed.size(), routes.size());
    for (std::size_t i = 0; i < routes.size(); ++i) {
        const auto& entry = printed[i].as_object();
        EXPECT_EQ(entry.at("method").as_string(), http::method_name(routes[i].method));
        EXPECT_EQ(entry.at("path").as_string(), routes[i].path);
    }
    const auto access_of = [&](std::string_view path) {
        for (const auto& e : printed) {
            if (e.at("path").as_string() == path) {
                return std::string(e.at("access").as_string());
            }
        }
        return std::string();
    };
    EXPECT_EQ(access_of("/health"), "open");
    EXPECT_EQ(access_of("/api/v1/auth/login"), "credential");
    EXPECT_EQ(access_of("/api/v1/auth/me"), "read");
    EXPECT_EQ(access_of("/api/v1/conversations/{id}/messages/stream"), "model");
}

TEST(RoutesTest, DocsPagesAndTheirAssetsAreEmbedded) {
    for (const char* path :
         {"/docs",
          "/redoc",
          "/openapi.json",
          "/docs/assets/swagger-ui.css",
          "/docs/assets/swagger-ui-bundle.js",
          "/docs/assets/swagger-init.js",
          "/docs/assets/redoc.standalone.js"}) {
        const auto a = assets::find_asset(path);
        ASSERT_TRUE(a.has_value()) << path;
        EXPECT_GT(a->data.size(), 100U) << path;
    }
    EXPECT_EQ(assets::find_asset("/docs")->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(
        assets::find_asset("/docs/assets/swagger-ui.css")->content_type, "text/css; charset=utf-8"
    );
    EXPECT_FALSE(assets::find_asset("/docs/assets/../../etc/passwd").has_value());
}

TEST(RoutesTest, WebClientAndItsLibrariesAreEmbedded) {
    for (const char* path :
         {"/app/", "/app/app.js", "/app/app.css", "/app/marked.esm.js", "/app/purify.es.mjs"}) {
        const auto a = assets::find_asset(path);
        ASSERT_TRUE(a.has_value()) << path;
        EXPECT_GT(a->data.size(), 100U) << path;
    }
    EXPECT_EQ(assets::find_asset("/app/")->content_type, "text/html; charset=utf-8");
    EXPECT_EQ(
        assets::find_asset("/app/purify.es.mjs")->content_type, "text/javascript; charset=utf-8"
    );
    EXPECT_FALSE(assets::find_asset("/app/index.html").has_value());
}

}  // namespace
}  // namespace parley::app
