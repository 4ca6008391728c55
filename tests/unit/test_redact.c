/* Redaction rules (common/redact.c) and their application to recorded
 * lines (analyzer/redact_line.c): what is hidden, and that every other
 * byte of a line is kept. */
#include "../../analyzer/redact_line.h"
#include "redact.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static peeka_redact rules;

static void with_default(void)
{
    char err[256];
    peeka_redact_init(&rules);
    ck_assert_int_eq(peeka_redact_add(&rules, PEEKA_REDACT_DEFAULT, err, sizeof err), 0);
}

static void drop_rules(void)
{
    peeka_redact_free(&rules);
}

static int key(const char *k)
{
    return peeka_redact_key(&rules, k, strlen(k));
}

/* The text after redaction; "" when nothing changed. */
static char *text(const char *s)
{
    char *out;
    size_t n;
    int rc = peeka_redact_text(&rules, s, strlen(s), &out, &n);
    ck_assert_int_ge(rc, 0);
    if (rc == 0)
        return strdup("");
    ck_assert_uint_eq(strlen(out), n);
    return out;
}

static void text_is(const char *in, const char *want)
{
    char *got = text(in);
    ck_assert_str_eq(got, want);
    free(got);
}

START_TEST(keys_search_any_case)
{
    ck_assert(key("password") && key("DB_PASSWORD") && key("X-Api-Key") && key("apikey"));
    ck_assert(key("Authorization") && key("sessionid") && key("csrf_token") && key("passwd"));
    ck_assert(!key("user") && !key("pass") && !key("api") && !key("") && !key("keys"));
    /* a NUL inside a key: each part is searched */
    ck_assert(peeka_redact_key(&rules, "x\0token", 7));
    ck_assert(!peeka_redact_key(&rules, "to\0ken", 6));
}
END_TEST

START_TEST(bad_rules_are_refused_with_a_reason)
{
    peeka_redact r;
    char err[256];
    peeka_redact_init(&r);
    ck_assert_int_eq(peeka_redact_add(&r, "(", err, sizeof err), -1);
    ck_assert(strstr(err, "'('") && strstr(err, "not a valid regular expression"));
    ck_assert_int_eq(peeka_redact_add(&r, "", err, sizeof err), -1);
    ck_assert(strstr(err, "empty"));
    char longrule[PEEKA_REDACT_RULE_MAX + 1];
    memset(longrule, 'a', sizeof longrule - 1);
    longrule[sizeof longrule - 1] = 0;
    ck_assert_int_eq(peeka_redact_add(&r, longrule, err, sizeof err), -1);
    for (int i = 0; i < PEEKA_REDACT_MAX; i++)
        ck_assert_int_eq(peeka_redact_add(&r, "x", err, sizeof err), 0);
    ck_assert_int_eq(peeka_redact_add(&r, "x", err, sizeof err), -1);
    ck_assert(strstr(err, "too many"));
    peeka_redact_free(&r);
    ck_assert_int_eq(r.n, 0);
}
END_TEST

START_TEST(text_values_after_secret_keys)
{
    text_is("bad login password=hunter2 for bob", "bad login password=[redacted] for bob");
    text_is("token: abc, user: bob", "token: [redacted], user: bob");
    text_is("{'password': 'a b c', 'user': 'x'}", "{'password': '[redacted]', 'user': 'x'}");
    text_is("{\"api_key\": \"k1\"}", "{\"api_key\": \"[redacted]\"}");
    text_is("GET /x?session=s1&page=2", "GET /x?session=[redacted]&page=2");
    text_is("Authorization: Bearer abc.def user=x", "Authorization: [redacted] user=x");
    text_is("secret=b'\\x00k'", "secret=b'[redacted]'");
    text_is("token='unterminated", "token='[redacted]");
    text_is("a=1 token=t1 b=2 passwd=p2", "a=1 token=[redacted] b=2 passwd=[redacted]");
    /* not assignments, or nothing to hide */
    text_is("if token == x", "");
    text_is("token=", "");
    text_is("std::token", "");
    text_is("user=bob", "");
    text_is("=token:", "");
    /* redacted before: the same text again */
    text_is("password=[redacted] token: '[redacted]' Authorization: [redacted]", "");
}
END_TEST

START_TEST(command_line_options)
{
    ck_assert(peeka_redact_option(&rules, "--password"));
    ck_assert(peeka_redact_option(&rules, "-token"));
    ck_assert(!peeka_redact_option(&rules, "--password=x"));
    ck_assert(!peeka_redact_option(&rules, "password"));
    ck_assert(!peeka_redact_option(&rules, "--"));
    ck_assert(!peeka_redact_option(&rules, "--user"));
}
END_TEST

/* The line redacted, or NULL when it is not a JSON object. */
static char *line(const char *in, pa_redact_stats *st)
{
    pa_buf out = {0};
    pa_jerr e = {NULL, 0};
    if (pa_redact_line(&rules, in, strlen(in), 0x2, &out, st, &e) < 0) {
        pa_buf_free(&out);
        return NULL;
    }
    pa_buf_addc(&out, 0);
    return out.p;
}

static void line_is(const char *in, const char *want, long values)
{
    pa_redact_stats st;
    char *got = line(in, &st);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    ck_assert_int_eq(st.values, values);
    free(got);
}

START_TEST(lines_hide_what_the_agent_hides)
{
    /* params by param_names (and *rest), kwargs, nested keys, attributes, returnObj, throwExp */
    line_is("{\"kind\":\"watch\",\"param_names\":[\"user\",\"password\",\"*tokens\"],"
            "\"params\":[\"bob\",\"pw\",1,2],\"kwargs\":{\"api_key\":\"k\",\"n\":{\"Cookie\":[1]}},"
            "\"target\":{\"__class__\":\"a.B\",\"__attrs__\":{\"secret\":{\"x\":1},\"ok\":1.50}},"
            "\"returnObj\":{\"session\":null,\"list\":[{\"token\":\"t\"}]},"
            "\"throwExp\":\"ValueError: password=p\\u0041w x\",\"cost\":0.0100}",
            "{\"kind\":\"watch\",\"param_names\":[\"user\",\"password\",\"*tokens\"],"
            "\"params\":[\"bob\",\"[redacted]\",\"[redacted]\",\"[redacted]\"],"
            "\"kwargs\":{\"api_key\":\"[redacted]\",\"n\":{\"Cookie\":\"[redacted]\"}},"
            "\"target\":{\"__class__\":\"a.B\",\"__attrs__\":{\"secret\":\"[redacted]\",\"ok\":1.50}},"
            "\"returnObj\":{\"session\":\"[redacted]\",\"list\":[{\"token\":\"[redacted]\"}]},"
            "\"throwExp\":\"ValueError: password=[redacted] x\",\"cost\":0.0100}", 9);
    /* already clean: the same bytes, nothing counted */
    line_is("{\"param_names\":[\"password\"],\"params\":[\"[redacted]\"],\"kwargs\":{},\"x\":{\"token\":1}}",
            "{\"param_names\":[\"password\"],\"params\":[\"[redacted]\"],\"kwargs\":{},\"x\":{\"token\":1}}", 0);
    /* --record: element 2 hidden by the caller, keys and text inside the others */
    line_is("{\"record\":[{\"token\":1},\"x\",\"a secret=s1\",[\"token: t\"]],\"params\":null}",
            "{\"record\":[{\"token\":\"[redacted]\"},\"[redacted]\",\"a secret=[redacted]\","
            "[\"token: [redacted]\"]],\"params\":null}", 4);
    /* trace and monitor records: only throwExp is a value */
    line_is("{\"kind\":\"trace\",\"call_tree\":{\"func\":\"m.session\",\"children\":[]},\"throwExp\":null}",
            "{\"kind\":\"trace\",\"call_tree\":{\"func\":\"m.session\",\"children\":[]},\"throwExp\":null}", 0);
}
END_TEST

START_TEST(lines_without_names_hide_positional_arguments)
{
    pa_redact_stats st;
    char *got = line("{\"params\":[1,\"x\"],\"kwargs\":{\"user\":\"u\"}}", &st);
    ck_assert_str_eq(got, "{\"params\":[\"[redacted]\",\"[redacted]\"],\"kwargs\":{\"user\":\"u\"}}");
    ck_assert(st.unnamed);
    free(got);
    got = line("{\"param_names\":[\"a\"],\"params\":[1,2]}", &st);   /* one more than named */
    ck_assert_str_eq(got, "{\"param_names\":[\"a\"],\"params\":[1,\"[redacted]\"]}");
    ck_assert(!st.unnamed);
    free(got);
    got = line("{\"params\":[]}", &st);
    ck_assert_str_eq(got, "{\"params\":[]}");
    ck_assert(!st.unnamed);
    free(got);
}
END_TEST

START_TEST(lines_that_are_not_json_are_refused)
{
    pa_redact_stats st;
    ck_assert_ptr_null(line("[1]", &st));
    ck_assert_ptr_null(line("{\"kwargs\":{\"a\" 1}}", &st));
    ck_assert_ptr_null(line("{\"kwargs\":{\"token\":", &st));
    ck_assert_ptr_null(line("{\"params\":[1,}", &st));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("redact");
    TCase *tc = tcase_create("rules");
    tcase_add_checked_fixture(tc, with_default, drop_rules);
    tcase_add_test(tc, keys_search_any_case);
    tcase_add_test(tc, bad_rules_are_refused_with_a_reason);
    tcase_add_test(tc, text_values_after_secret_keys);
    tcase_add_test(tc, command_line_options);
    tcase_add_test(tc, lines_hide_what_the_agent_hides);
    tcase_add_test(tc, lines_without_names_hide_positional_arguments);
    tcase_add_test(tc, lines_that_are_not_json_are_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
