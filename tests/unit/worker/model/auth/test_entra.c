/* entra_wire: credential choice, token requests, answers, refresh times. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/cfg.h"
#include "worker/model/auth/entra_wire.h"

#define SCOPE "https://cognitiveservices.azure.com/.default"

static void test_choice(void **state)
{
    struct cfg c = { 0 };
    struct entra_cred cr;
    char err[200];
    (void)state;
    c.azure_authority_host = "https://login.example";
    c.azure_imds_host = "http://169.254.169.254";
    assert_int_equal(entra_cred_from_cfg(&c, &cr, err, sizeof(err)), 0);
    assert_int_equal(cr.kind, ENTRA_IMDS);
    c.identity_endpoint = "http://127.0.0.1:1/msi/token";
    assert_int_equal(entra_cred_from_cfg(&c, &cr, err, sizeof(err)), -1);
    c.identity_header = "h";
    assert_int_equal(entra_cred_from_cfg(&c, &cr, err, sizeof(err)), 0);
    assert_int_equal(cr.kind, ENTRA_APP_SERVICE);
    c.azure_federated_token_file = "/tmp/f";
    assert_int_equal(entra_cred_from_cfg(&c, &cr, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "AZURE_TENANT_ID"));
    c.azure_tenant_id = "t";
    c.azure_client_id = "c";
    assert_int_equal(entra_cred_from_cfg(&c, &cr, err, sizeof(err)), 0);
    assert_int_equal(cr.kind, ENTRA_WORKLOAD);
    c.azure_client_secret = "s";
    assert_int_equal(entra_cred_from_cfg(&c, &cr, err, sizeof(err)), 0);
    assert_int_equal(cr.kind, ENTRA_SECRET);
}

static void test_requests(void **state)
{
    struct entra_cred cr = { .kind = ENTRA_SECRET, .tenant = "t 1", .client_id = "c", .secret = "a&b=c+d", .authority = "https://l.example/", .imds_host = "http://127.0.0.1:9/" };
    struct entra_http h;
    (void)state;
    assert_int_equal(entra_http_build(&cr, SCOPE, NULL, &h), 0);
    assert_string_equal(h.url, "https://l.example/t%201/oauth2/v2.0/token");
    assert_string_equal(h.body, "grant_type=client_credentials&client_id=c"
                                "&client_secret=a%26b%3Dc%2Bd&scope=https%3A%2F%2Fcognitiveservices"
                                ".azure.com%2F.default");
    entra_http_free(&h);
    cr.kind = ENTRA_WORKLOAD;
    assert_int_equal(entra_http_build(&cr, SCOPE, "jwt", &h), 0);
    assert_non_null(strstr(h.body, "client_assertion=jwt"));
    assert_null(strstr(h.body, "client_secret"));
    entra_http_free(&h);
    cr.kind = ENTRA_IMDS;
    cr.client_id = NULL;
    assert_int_equal(entra_http_build(&cr, SCOPE, NULL, &h), 0);
    assert_string_equal(h.url, "http://127.0.0.1:9/metadata/identity/oauth2/"
                               "token?api-version=2018-02-01&resource=https%3A%2F%2F"
                               "cognitiveservices.azure.com");
    assert_string_equal(h.header, "Metadata: true");
    assert_null(h.body);
    entra_http_free(&h);
}

static void test_parse(void **state)
{
    struct entra_token t;
    char err[200];
    const char *a = "{\"access_token\":\"x\",\"expires_in\":3599}";
    const char *b = "{\"access_token\":\"y\",\"expires_on\":\"2000\"}";
    const char *e = "{\"error\":\"invalid_client\",\"error_description\":\"bad\"}";
    (void)state;
    assert_int_equal(entra_parse(200, a, strlen(a), 1000, &t, err, 200), 0);
    assert_string_equal(t.access_token, "x");
    assert_true(t.expires_ms == 1000 + 3599000LL);
    free(t.access_token);
    assert_int_equal(entra_parse(200, b, strlen(b), 1000, &t, err, 200), 0);
    assert_true(t.expires_ms == 2000000LL);
    free(t.access_token);
    assert_int_equal(entra_parse(200, b, strlen(b), 3000000, &t, err, 200), -1);
    assert_int_equal(entra_parse(401, e, strlen(e), 0, &t, err, 200), -1);
    assert_string_equal(err, "HTTP 401 invalid_client: bad");
    assert_int_equal(entra_parse(200, "{}", 2, 0, &t, err, 200), -1);
}

static void test_times(void **state)
{
    (void)state;
    assert_true(entra_refresh_at(0, 3600000) == 3300000); /* 5 min early */
    assert_true(entra_refresh_at(0, 4000) == 2000);       /* half-life */
    assert_true(entra_usable_until(0, 3600000) == 3570000);
    assert_true(entra_usable_until(0, 4000) == 3600);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_choice),
        cmocka_unit_test(test_requests),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_times),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
