/* Unit tests of peeka-analyze's C core: the record scanner, typed field
 * access, prefilters, statistics (percentiles, histogram, Mann-Whitney U),
 * duration formatting and parsing. */
#include "../../analyzer/json_scan.h"
#include "../../analyzer/prefilter.h"
#include "../../analyzer/record.h"
#include "../../analyzer/stats.h"
#include "../../analyzer/tdist.h"
#include "../../analyzer/util.h"
#include "duration.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *REC =
    "{\"type\":\"observation\",\"kind\":\"watch\",\"seq\":3,\"ts_ns\":1763911800223456789,"
    "\"func_name\":\"app.cart.Cart.total\",\"location\":\"AtExit\",\"params\":[2,\"EU\\\"R\",{\"a\":[1]}],"
    "\"success\":true,\"throwExp\":null,\"cost\":0.012,\"cost_ns\":12345,\"thread_name\":\"w\\u00e9\"}";

static int scan(const char *s, pa_field *f, pa_jerr *e)
{
    return pa_scan_object(s, strlen(s), f, PA_MAX_FIELDS, e);
}

START_TEST(scan_indexes_top_level_fields)
{
    pa_field f[PA_MAX_FIELDS];
    pa_jerr e;
    int n = scan(REC, f, &e);
    ck_assert_int_eq(n, 12);
    pa_recview v;
    pa_recview_init(&v, REC, strlen(REC), f, n);
    int64_t x;
    ck_assert(pa_rec_int(&v, PS_TS_NS, &x));
    ck_assert(x == 1763911800223456789LL);
    ck_assert(pa_rec_cost_ns(&v, &x) && x == 12345);
    const char *s;
    size_t len;
    char buf[64];
    ck_assert(pa_rec_str(&v, PS_FUNC, buf, sizeof buf, &s, &len));
    ck_assert_int_eq((int)len, 19);
    ck_assert(memcmp(s, "app.cart.Cart.total", len) == 0);
    ck_assert(pa_rec_str(&v, PS_THREAD_NAME, buf, sizeof buf, &s, &len));
    ck_assert(len == 3 && memcmp(s, "w\xC3\xA9", 3) == 0);
    int p = pa_field_find(REC, f, n, "params", 6);
    ck_assert_int_ge(p, 0);
    ck_assert_int_eq(f[p].type, PA_J_ARR);
    ck_assert(f[v.slot[PS_THROW]].type == PA_J_NULL);
}
END_TEST

START_TEST(scan_rejects_bad_lines)
{
    static const char *const bad[] = {
        "", "[]", "{", "{\"a\":}", "{\"a\":1,}", "{\"a\":[1,2}", "{\"a\":\"x}", "{\"a\":01}",
        "{\"a\":1} x", "{\"a\":tru}", "{\"a\":\"\x01\"}", "{a:1}", NULL};
    pa_field f[PA_MAX_FIELDS];
    for (int i = 0; bad[i]; i++) {
        pa_jerr e = {0};
        ck_assert_msg(scan(bad[i], f, &e) < 0, "accepted: %s", bad[i]);
        ck_assert(e.msg != NULL);
    }
}
END_TEST

START_TEST(scan_bounds_nesting)
{
    size_t depth = 100000;
    char *s = malloc(depth * 2 + 16);
    ck_assert(s != NULL);
    strcpy(s, "{\"a\":");
    memset(s + 5, '[', depth);
    memset(s + 5 + depth, ']', depth);
    strcpy(s + 5 + 2 * depth, "}");
    pa_field f[PA_MAX_FIELDS];
    pa_jerr e = {0};
    ck_assert_int_lt(scan(s, f, &e), 0);
    ck_assert_str_eq(e.msg, "JSON nested deeper than 512 levels");
    free(s);
}
END_TEST

START_TEST(unescape_utf16_pairs)
{
    const char *in = "a\\n\\ud83d\\ude00\\u00e9\\/";
    char out[64];
    long n = pa_json_unescape(in, strlen(in), out);
    ck_assert_int_eq(n, 1 + 1 + 4 + 2 + 1);
    ck_assert(memcmp(out, "a\n\xF0\x9F\x98\x80\xC3\xA9/", (size_t)n) == 0);
    ck_assert_int_eq(pa_json_unescape("\\x", 2, out), -1);
}
END_TEST

START_TEST(prefilter_matches)
{
    pa_field f[PA_MAX_FIELDS];
    pa_jerr e;
    int n = scan(REC, f, &e);
    pa_recview v;
    pa_recview_init(&v, REC, strlen(REC), f, n);
    pa_filter flt;
    pa_filter_init(&flt);
    ck_assert(pa_filter_match(&flt, &v));
    pa_strset_add(&flt.func, "app.*.total");
    pa_strset_add(&flt.kind, "trace");
    ck_assert(!pa_filter_match(&flt, &v));
    pa_strset_add(&flt.kind, "watch");
    ck_assert(pa_filter_match(&flt, &v));
    flt.has_min_cost = 1;
    flt.min_cost_ns = 12346;
    ck_assert(!pa_filter_match(&flt, &v));
    flt.min_cost_ns = 12345;
    ck_assert(pa_filter_match(&flt, &v));
    flt.has_errors = 1;
    flt.errors = 1;
    ck_assert(!pa_filter_match(&flt, &v));
    pa_filter_free(&flt);
    ck_assert(pa_glob("app.*", "app.views.x", 11));
    ck_assert(!pa_glob("app.*", "xapp.views", 10));
    ck_assert(pa_glob("app.views.checkout", "app.views.checkout", 18));
}
END_TEST

START_TEST(stats_exact_percentiles)
{
    pa_stats s;
    pa_stats_init(&s, PA_STATS_HYBRID);
    for (int i = 100; i >= 1; i--)
        pa_stats_add(&s, i);
    ck_assert(pa_stats_is_exact(&s));
    ck_assert(pa_stats_percentile(&s, 50) == 50);
    ck_assert(pa_stats_percentile(&s, 95) == 95);
    ck_assert(pa_stats_percentile(&s, 99.5) == 100);
    ck_assert(pa_stats_percentile(&s, 0) == 1);
    ck_assert(s.sum == 5050 && s.n == 100);
    pa_stats_free(&s);
}
END_TEST

START_TEST(stats_histogram_is_bounded_and_close)
{
    pa_stats s;
    pa_stats_init(&s, PA_STATS_HYBRID);
    for (int i = 1; i <= 1000000; i++)
        pa_stats_add(&s, (double)i * 37);
    ck_assert(!pa_stats_is_exact(&s));
    ck_assert(s.v == NULL);
    for (double p = 1; p < 100; p += 7) {
        double want = ceil(p / 100 * 1e6) * 37;
        double got = pa_stats_percentile(&s, p);
        ck_assert_msg(fabs(got / want - 1) <= 0.004, "p%.0f: %g vs %g", p, got, want);
    }
    ck_assert(pa_stats_percentile(&s, 100) == 37e6);
    pa_stats_free(&s);
}
END_TEST

START_TEST(mannwhitney_detects_shift_not_noise)
{
    pa_stats a, b, c;
    pa_stats_init(&a, PA_STATS_EXACT);
    pa_stats_init(&b, PA_STATS_EXACT);
    pa_stats_init(&c, PA_STATS_EXACT);
    srand(1);
    for (int i = 0; i < 400; i++) {
        double noise = (double)(rand() % 1000);
        pa_stats_add(&a, 10000 + noise);
        pa_stats_add(&b, 10000 + (double)(rand() % 1000));
        pa_stats_add(&c, 12000 + noise);
    }
    pa_mwu r;
    ck_assert_int_eq(pa_stats_mwu(&c, &a, &r), 0);
    ck_assert(r.p < 1e-10 && r.ps > 0.99);
    ck_assert_int_eq(pa_stats_mwu(&b, &a, &r), 0);
    ck_assert(r.p > 0.001);
    pa_stats_free(&a);
    pa_stats_free(&b);
    pa_stats_free(&c);
}
END_TEST

/* Table values of Student's t (Abramowitz & Stegun 26.7; R's qt). */
START_TEST(t_distribution_matches_tables)
{
    ck_assert_double_eq_tol(pa_t_quantile(0.975, 1), 12.7062047361747, 1e-9);
    ck_assert_double_eq_tol(pa_t_quantile(0.995, 4), 4.60409487135, 1e-9);
    ck_assert_double_eq_tol(pa_t_quantile(0.975, 10), 2.22813885196, 1e-9);
    ck_assert_double_eq_tol(pa_t_quantile(0.05, 30), -1.69726088659, 1e-9);
    ck_assert_double_eq_tol(pa_t_cdf(2.0, 5), 0.94903026058507, 1e-12);
    ck_assert_double_eq_tol(pa_t_cdf(0, 3.5), 0.5, 1e-15);
    ck_assert(isnan(pa_t_quantile(1, 3)) && isnan(pa_t_cdf(1, 0)));
}
END_TEST

START_TEST(welch_test_by_hand)
{
    pa_stats a, b;
    pa_stats_init(&a, PA_STATS_EXACT);
    pa_stats_init(&b, PA_STATS_EXACT);
    for (int i = 1; i <= 4; i++)
        pa_stats_add(&a, i);
    for (int i = 1; i <= 5; i++)
        pa_stats_add(&b, 2 * i);
    pa_welch r;
    ck_assert_int_eq(pa_welch_test(&a, &b, &r), 0);
    /* var(a)/4 = 5/12, var(b)/5 = 2: se^2 = 29/12 */
    ck_assert_double_eq_tol(r.diff, -3.5, 1e-12);
    ck_assert_double_eq_tol(r.se, sqrt(29.0 / 12), 1e-12);
    ck_assert_double_eq_tol(r.df, 5.520787746170677, 1e-9);
    ck_assert_double_eq_tol(r.p, 0.0691335931923938, 1e-9);
    pa_stats c;                       /* one value: no spread to estimate */
    pa_stats_init(&c, PA_STATS_EXACT);
    pa_stats_add(&c, 1);
    ck_assert_int_eq(pa_welch_test(&a, &c, &r), -1);
    pa_stats_add(&c, 1);              /* two equal values on both sides */
    pa_stats d;
    pa_stats_init(&d, PA_STATS_EXACT);
    pa_stats_add(&d, 2);
    pa_stats_add(&d, 2);
    ck_assert_int_eq(pa_welch_test(&d, &c, &r), 0);
    ck_assert(r.p == 0 && r.se == 0);
    pa_stats_free(&a);
    pa_stats_free(&b);
    pa_stats_free(&c);
    pa_stats_free(&d);
}
END_TEST

START_TEST(durations)
{
    char buf[32];
    pa_fmt_duration(125300000, buf, sizeof buf);
    ck_assert_str_eq(buf, "125.3ms");
    pa_fmt_duration(999, buf, sizeof buf);
    ck_assert_str_eq(buf, "999ns");
    pa_fmt_duration(1234567890, buf, sizeof buf);
    ck_assert_str_eq(buf, "1.235s");
    int64_t ns;
    ck_assert(peeka_duration_ns("10ms", PEEKA_BARE_MS, &ns) == 0 && ns == 10000000);
    ck_assert(peeka_duration_ns("1.5s", PEEKA_BARE_MS, &ns) == 0 && ns == 1500000000);
    ck_assert(peeka_duration_ns("250us", PEEKA_BARE_MS, &ns) == 0 && ns == 250000);
    ck_assert(peeka_duration_ns("7", PEEKA_BARE_MS, &ns) == 0 && ns == 7000000);
    ck_assert(peeka_duration_ns("fast", PEEKA_BARE_MS, &ns) < 0);
    ck_assert(peeka_duration_ns("-1s", PEEKA_BARE_MS, &ns) < 0);
    /* peeka-rec's -d: a bare number is seconds, and its helper agrees */
    ck_assert(peeka_duration_ns("30", PEEKA_BARE_SECONDS, &ns) == 0 && ns == 30000000000LL);
    ck_assert(peeka_duration_ns("5m", PEEKA_BARE_SECONDS, &ns) == 0 && ns == 300000000000LL);
    ck_assert(peeka_parse_duration("1h") == 3600 && peeka_parse_duration("500ms") == 0.5);
    ck_assert(peeka_parse_duration("soon") < 0 && peeka_parse_duration("") < 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("analyzer_core");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, scan_indexes_top_level_fields);
    tcase_add_test(tc, scan_rejects_bad_lines);
    tcase_add_test(tc, scan_bounds_nesting);
    tcase_add_test(tc, unescape_utf16_pairs);
    tcase_add_test(tc, prefilter_matches);
    tcase_add_test(tc, stats_exact_percentiles);
    tcase_add_test(tc, stats_histogram_is_bounded_and_close);
    tcase_add_test(tc, mannwhitney_detects_shift_not_noise);
    tcase_add_test(tc, t_distribution_matches_tables);
    tcase_add_test(tc, welch_test_by_hand);
    tcase_add_test(tc, durations);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
