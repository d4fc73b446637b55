/* docs_settings_table - prints the settings of mc_binding_settings() as a
 * Markdown table, for the guide's pages (tests/docs_settings.sh puts it
 * between their "settings" markers and checks that it is still so).
 * usage: docs_settings_table KIND|common ELEMENT
 *   KIND     the settings whose row names this binding kind (not "*")
 *   common   the settings of every binding kind ("*")
 *   ELEMENT  transport, encoding or security */
#include <stdio.h>
#include <string.h>
#include <mailchan.h>

static int names_kind(const char *kinds, const char *kind)
{
    size_t n = strlen(kind);
    for (const char *p = kinds; *p;) {
        size_t w = strcspn(p, " ");
        if (w == n && !strncmp(p, kind, n))
            return 1;
        p += w;
        p += strspn(p, " ");
    }
    return 0;
}

static void cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", stdout);
        else
            putchar(*s);
    }
}

int main(int argc, char **argv)
{
    static const char *const elements[] = {"transport", "encoding", "security"};
    size_t n, rows = 0;
    const mc_setting_info *s = mc_binding_settings(&n);
    int element = -1;
    if (argc != 3) {
        fputs("usage: docs_settings_table KIND|common transport|encoding|security\n", stderr);
        return 2;
    }
    for (int e = 0; e < 3; e++)
        if (!strcmp(argv[2], elements[e]))
            element = e;
    if (element < 0) {
        fprintf(stderr, "docs_settings_table: unknown element %s\n", argv[2]);
        return 2;
    }
    puts("| setting | default | kinds | meaning |");
    puts("|---|---|---|---|");
    for (size_t i = 0; i < n; i++) {
        int common = !strcmp(s[i].transports, "*");
        if ((int)s[i].element != element)
            continue;
        if (!strcmp(argv[1], "common") ? !common : common || !names_kind(s[i].transports, argv[1]))
            continue;
        printf("| `%s` | %s%s%s | %s | ", s[i].name, *s[i].default_value ? "`" : "",
               *s[i].default_value ? s[i].default_value : "(none)", *s[i].default_value ? "`" : "",
               common ? "all" : s[i].transports);
        cell(s[i].help);
        puts(" |");
        rows++;
    }
    if (!rows) {
        fprintf(stderr, "docs_settings_table: no %s setting of %s\n", argv[2], argv[1]);
        return 1;
    }
    return 0;
}
