#define _GNU_SOURCE /* memmem */
/* tictactoe - a two-player game over e-mail, peer to peer, with WS-Security
 * message security on: one player invites another by e-mail address, moves
 * travel as signed and encrypted SOAP messages on net.mail://tictactoe#ADDR.
 *
 * usage: tictactoe [options] STORE MY_ADDRESS invite OTHER_ADDRESS
 *        tictactoe [options] STORE MY_ADDRESS wait [OTHER_ADDRESS]
 *        tictactoe [options] --config FILE MY_ADDRESS invite|wait ...
 * STORE is a Maildir root shared by both players (the embedded default);
 * --config FILE is any binding ("binding = maildir|mail|exchange") with the
 * security settings in the file; MY_ADDRESS is the binding's "address"
 * (it overrides the file's). "wait" plays against the first inviter whose
 * certificate names the address the invitation came from (or only against
 * OTHER_ADDRESS). Options:
 *   --certs DIR   certificates made by make-certs.sh (DIR/ca.pem,
 *                 DIR/certs/ADDR.pem, DIR/private/ADDR.key); required with
 *                 STORE, overrides the file's settings with --config
 *   --auto        play by itself (win, else block, else 5,1,3,7,9,2,4,6,8)
 *   --delay MS    with --auto, think MS before each own move (0)
 *   --timeout S   seconds to wait for the other player (600; 0: forever)
 *
 * The inviter plays X and moves first. Messages (namespace NS below, action
 * NS:Name): Invite (Game, Symbol X), Accept (Game, Symbol O) / Decline
 * (Game), Move (Game, Number, Cell 1-9), End (Game, Moves, Result, Board).
 * Each one's wsa:RelatesTo is the wsa:MessageID of the game's previous
 * message, so the game is one chain. A received message counts only when
 * the library verified its signature (the chain to the CA, the Timestamp,
 * no replay) AND the signer's certificate is the opponent's (CN = the
 * opponent's address); a move counts only when it is this game's, the next
 * in sequence, follows the last message, and takes a free cell. Anything
 * else is refused and reported, never applied.
 *
 * Exit status: 0 the game ended (win, loss or draw), 1 an error, 2 usage,
 * 3 declined or resigned, 4 the other player did not answer in time. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <mailchan.h>

#define NS "urn:mailchan:samples:tictactoe"
#define CHANNEL "tictactoe"
#define ADDR_MAX 256
#define ID_MAX 300

enum { EXIT_GAME = 0, EXIT_ERROR = 1, EXIT_USAGE = 2, EXIT_DECLINED = 3, EXIT_NO_ANSWER = 4 };

typedef struct {
    const char *config, *store, *certs, *me, *command, *other;
    bool auto_play;
    long delay_ms, timeout_s;
} options;

typedef struct {
    const options *opt;
    mc_transport *t;
    mc_channel_factory *f;
    mc_channel_listener *l;
    mc_input_channel *in;
    mc_output_channel *out;
    char me[ADDR_MAX], peer[ADDR_MAX];
    char game[64];
    char mine, theirs; /* 'X' or 'O' */
    char cells[9];     /* 'X', 'O' or ' ' */
    int moves;
    char last_id[ID_MAX]; /* wsa:MessageID of the game's last message */
} game;

/* ---- the board ---- */

static const int lines[8][3] = {{0, 1, 2}, {3, 4, 5}, {6, 7, 8}, {0, 3, 6},
                                {1, 4, 7}, {2, 5, 8}, {0, 4, 8}, {2, 4, 6}};

static char winner(const char *c)
{
    for (int i = 0; i < 8; i++)
        if (c[lines[i][0]] != ' ' && c[lines[i][0]] == c[lines[i][1]] && c[lines[i][1]] == c[lines[i][2]])
            return c[lines[i][0]];
    return 0;
}

static bool finished(const game *g) { return winner(g->cells) || g->moves == 9; }

/* X plays the odd move numbers, O the even ones */
static char symbol_of_move(int number) { return number % 2 ? 'X' : 'O'; }

static void print_board(const game *g)
{
    for (int r = 0; r < 3; r++) {
        printf("     ");
        for (int c = 0; c < 3; c++) {
            char v = g->cells[r * 3 + c];
            printf(" %c%s", v == ' ' ? '1' + r * 3 + c : v, c < 2 ? " |" : "\n");
        }
        if (r < 2)
            printf("     ---+---+---\n");
    }
}

static void result_text(char *out, size_t size, const game *g)
{
    char w = winner(g->cells);
    if (w)
        snprintf(out, size, "%c wins", w);
    else
        snprintf(out, size, "draw");
}

static void board_text(char out[12], const game *g)
{
    for (int i = 0, j = 0; i < 9; i++) {
        out[j++] = g->cells[i] == ' ' ? '.' : g->cells[i];
        if (i == 2 || i == 5)
            out[j++] = '/';
    }
    out[11] = '\0';
}

/* win if possible, else block, else the first free of 5,1,3,7,9,2,4,6,8 */
static int auto_move(const game *g)
{
    static const int order[9] = {5, 1, 3, 7, 9, 2, 4, 6, 8};
    char want[2] = {g->mine, g->theirs};
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 8; i++) {
            int n = 0, free_cell = -1;
            for (int j = 0; j < 3; j++) {
                char v = g->cells[lines[i][j]];
                if (v == want[k])
                    n++;
                else if (v == ' ')
                    free_cell = lines[i][j];
            }
            if (n == 2 && free_cell >= 0)
                return free_cell + 1;
        }
    for (int i = 0; i < 9; i++)
        if (g->cells[order[i] - 1] == ' ')
            return order[i];
    return 0;
}

/* ---- the library's log: what message security refused ---- */

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_seen[8][128];
static unsigned log_next;

/* The library refuses what fails message security (unsigned, untrusted,
 * replayed, tampered) before the game sees it, and logs it once per
 * attempt ("invalid mail NAME (attempt N of M): reason"): shown once. */
static void on_log(mc_log_level level, const char *message, void *user_data)
{
    const char *name = strstr(message, "invalid mail ");
    (void)user_data;
    if (!name) {
        if (level >= MC_LOG_WARN)
            fprintf(stderr, "tictactoe: mailchan: %s\n", message);
        return;
    }
    name += strlen("invalid mail ");
    size_t n = strcspn(name, " ");
    pthread_mutex_lock(&log_lock);
    bool seen = false;
    for (unsigned i = 0; i < 8; i++)
        seen |= strlen(log_seen[i]) == n && !strncmp(log_seen[i], name, n);
    if (!seen && n < sizeof(log_seen[0])) {
        memcpy(log_seen[log_next % 8], name, n);
        log_seen[log_next++ % 8][n] = '\0';
        const char *why = strstr(name, "): ");
        printf("refused by message security: %s\n", why ? why + 3 : message);
        fflush(stdout);
    }
    pthread_mutex_unlock(&log_lock);
}

/* ---- message bodies ---- */

/* The text of <Name>...</Name> in a body this program wrote: plain
 * characters only (letters, digits, '-', ' ', '/', '.'), else not found. */
static bool field(char *out, size_t size, const char *body, size_t len, const char *name)
{
    char open[32], close[32];
    const char *end = body + len, *a, *b;
    snprintf(open, sizeof(open), "<%s>", name);
    snprintf(close, sizeof(close), "</%s>", name);
    a = memmem(body, len, open, strlen(open));
    if (!a)
        return false;
    a += strlen(open);
    b = memmem(a, (size_t)(end - a), close, strlen(close));
    if (!b || (size_t)(b - a) >= size || b == a)
        return false;
    for (const char *p = a; p < b; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            !strchr("-/. ", *p))
            return false;
    memcpy(out, a, (size_t)(b - a));
    out[b - a] = '\0';
    return true;
}

static int field_int(const char *body, size_t len, const char *name, int lo, int hi)
{
    char v[16], *end;
    long n;
    if (!field(v, sizeof(v), body, len, name))
        return -1;
    errno = 0;
    n = strtol(v, &end, 10);
    return errno || *end || n < lo || n > hi ? -1 : (int)n;
}

/* ---- who signed ---- */

/* The CN of an RFC 2253 subject ("CN=bob@example.test,O=..."); false when
 * there is none, more than one, or one with escaped or quoted characters.
 * An attribute starts only after an unescaped ',' or '+': "O=x\,CN=bob"
 * is an O whose value ends in ",CN=bob", not a CN. */
static bool subject_cn(char *out, size_t size, const char *subject)
{
    const char *cn = NULL;
    bool start = true;
    size_t n;
    for (const char *p = subject; *p; p++) {
        if (start && !strncasecmp(p, "CN=", 3)) {
            if (cn)
                return false;
            cn = p + 3;
        }
        start = *p == ',' || *p == '+';
        if (*p == '\\' && !*++p)
            return false;
    }
    if (!cn)
        return false;
    n = strcspn(cn, ",+\\\"");
    if (n == 0 || n >= size || (cn[n] != ',' && cn[n] != '+' && cn[n] != '\0'))
        return false;
    memcpy(out, cn, n);
    out[n] = '\0';
    return true;
}

/* Whether @p m was signed by @p expected's certificate (NULL: anyone whose
 * certificate names the mail's sender address); the signer's address in
 * @p signer. Refusals are printed. */
static bool signed_by(char signer[ADDR_MAX], const mc_message *m, const char *expected)
{
    const char *subject = mc_message_property(m, MC_PROP_SENDER_CERTIFICATE);
    const char *from = mc_message_property(m, MC_PROP_FROM_EMAIL);
    const char *action = mc_message_action(m);
    const char *what = strrchr(action ? action : "?", ':');
    what = what ? what + 1 : "message";
    if (!subject || !subject_cn(signer, ADDR_MAX, subject)) {
        printf("refused %s from %s: not signed by a certificate naming a player (%s)\n", what,
               from ? from : "?", subject ? subject : "no signature");
        return false;
    }
    if (expected ? strcasecmp(signer, expected) != 0 : (!from || strcasecmp(signer, from) != 0)) {
        printf("refused %s from %s: signed by %s, not by %s\n", what, from ? from : "?", subject,
               expected ? expected : "the sender");
        return false;
    }
    return true;
}

/* ---- sending ---- */

static int send_body(game *g, const char *name, const char *inner)
{
    char action[128], body[512];
    mc_message *m = NULL;
    int rc;
    snprintf(action, sizeof(action), NS ":%s", name);
    snprintf(body, sizeof(body), "<%s xmlns=\"" NS "\"><Game>%s</Game>%s</%s>", name, g->game, inner, name);
    if (!(rc = mc_message_new(&m, action, body, strlen(body))) &&
        (!g->last_id[0] || !(rc = mc_message_set_relates_to(m, g->last_id))) &&
        !(rc = mc_output_channel_send(g->out, m)))
        snprintf(g->last_id, sizeof(g->last_id), "%s", mc_message_message_id(m));
    if (rc)
        fprintf(stderr, "tictactoe: sending %s to %s: %s\n", name, g->peer, mc_error_last());
    mc_message_free(m);
    return rc;
}

static int open_output(game *g)
{
    char to[ADDR_MAX + 32];
    snprintf(to, sizeof(to), "net.mail://" CHANNEL "#%s", g->peer);
    if (mc_channel_factory_create_channel(&g->out, g->f, to)) {
        fprintf(stderr, "tictactoe: %s: %s\n", to, mc_error_last());
        return -1;
    }
    return 0;
}

/* ---- receiving ---- */

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next message of action NS:@p name for this game, signed by the
 * peer (or, before the game has one, by anyone naming the sender). The
 * others are refused and reported. @return 0, EXIT_NO_ANSWER or EXIT_ERROR. */
static int next_message(mc_message **out, game *g, const char *name, const char *alt)
{
    long long deadline = g->opt->timeout_s ? now_ms() + g->opt->timeout_s * 1000 : 0;
    char want[128], want_alt[128], signer[ADDR_MAX];
    snprintf(want, sizeof(want), NS ":%s", name);
    snprintf(want_alt, sizeof(want_alt), NS ":%s", alt ? alt : name);
    for (;;) {
        mc_message *m = NULL;
        long long left = deadline ? deadline - now_ms() : 1000;
        int rc;
        if (left <= 0)
            return EXIT_NO_ANSWER;
        rc = mc_input_channel_receive(&m, g->in, (int)(left > 1000 ? 1000 : left));
        if (rc == MC_ETIMEOUT)
            continue;
        if (rc) {
            fprintf(stderr, "tictactoe: receiving: %s\n", mc_error_last());
            return EXIT_ERROR;
        }
        const char *action = mc_message_action(m);
        size_t len;
        const char *body = mc_message_body(m, &len);
        char id[64];
        if (signed_by(signer, m, g->peer[0] ? g->peer : NULL)) {
            if (!action || (strcmp(action, want) && strcmp(action, want_alt)))
                printf("refused %s from %s: not expected now (waiting for %s)\n", action ? action : "?",
                       signer, name);
            else if (g->game[0] &&
                     (!body || !field(id, sizeof(id), body, len, "Game") || strcmp(id, g->game)))
                printf("refused %s from %s: not this game (%s)\n", strrchr(action, ':') + 1, signer,
                       body && field(id, sizeof(id), body, len, "Game") ? id : "no game id");
            else {
                if (!g->peer[0])
                    snprintf(g->peer, sizeof(g->peer), "%s", signer);
                *out = m;
                return 0;
            }
        }
        fflush(stdout);
        mc_message_free(m);
    }
}

/* ---- the game ---- */

static void announce(const game *g, int number, int cell, const char *who)
{
    printf("move %d: %c takes %d (%s)\n", number, symbol_of_move(number), cell, who);
    print_board(g);
    fflush(stdout);
}

/* A Move from the peer checked against the game: @return the cell, or 0
 * (refused and reported). */
static int check_move(const game *g, const mc_message *m)
{
    size_t len;
    const char *body = mc_message_body(m, &len);
    const char *rel = mc_message_relates_to(m);
    int number = field_int(body, len, "Number", 1, 9), cell = field_int(body, len, "Cell", 1, 9);
    char why[96] = "";
    if (number < 0 || cell < 0)
        snprintf(why, sizeof(why), "no valid Number and Cell");
    else if (number <= g->moves)
        snprintf(why, sizeof(why), "move %d was already played (a replay)", number);
    else if (number != g->moves + 1)
        snprintf(why, sizeof(why), "move %d is out of turn (next is move %d)", number, g->moves + 1);
    else if (!rel || strcmp(rel, g->last_id))
        snprintf(why, sizeof(why), "it does not follow the game's last message (wsa:RelatesTo)");
    else if (g->cells[cell - 1] != ' ')
        snprintf(why, sizeof(why), "cell %d is taken", cell);
    if (!why[0])
        return cell;
    printf("refused move %d from %s: %s; the board is unchanged\n", number, g->peer, why);
    fflush(stdout);
    return 0;
}

static int read_human_move(const game *g)
{
    char line[64];
    for (;;) {
        printf("your move (%c), a free cell 1-9, or q to resign: ", g->mine);
        fflush(stdout);
        if (!fgets(line, sizeof(line), stdin) || line[0] == 'q')
            return 0;
        int cell = atoi(line);
        if (cell >= 1 && cell <= 9 && g->cells[cell - 1] == ' ')
            return cell;
        printf("not a free cell: %s\n", strtok(line, "\n") ? line : "");
    }
}

static int my_move(game *g)
{
    char inner[96];
    int cell;
    if (g->opt->auto_play) {
        if (g->opt->delay_ms > 0)
            nanosleep(&(struct timespec){g->opt->delay_ms / 1000, (g->opt->delay_ms % 1000) * 1000000}, NULL);
        cell = auto_move(g);
    } else {
        cell = read_human_move(g);
    }
    if (!cell) {
        char res[48];
        snprintf(res, sizeof(res), "<Moves>%d</Moves><Result>%c resigns</Result>", g->moves, g->mine);
        printf("you resign\n");
        send_body(g, "End", res);
        return EXIT_DECLINED;
    }
    g->cells[cell - 1] = g->mine;
    g->moves++;
    snprintf(inner, sizeof(inner), "<Number>%d</Number><Cell>%d</Cell>", g->moves, cell);
    if (send_body(g, "Move", inner))
        return EXIT_ERROR;
    announce(g, g->moves, cell, "you");
    return 0;
}

/* the peer's move, or its End (a resignation) */
static int their_move(game *g)
{
    if (!g->opt->auto_play)
        printf("waiting for %s's move...\n", g->peer);
    for (;;) {
        mc_message *m = NULL;
        int rc = next_message(&m, g, "Move", "End"), cell;
        char who[ADDR_MAX + 64], res[32];
        size_t len;
        const char *body;
        if (rc)
            return rc;
        body = mc_message_body(m, &len);
        if (!strcmp(mc_message_action(m), NS ":End")) {
            if (field(res, sizeof(res), body, len, "Result") && strlen(res) == 9 && res[0] == g->theirs &&
                !strcmp(res + 1, " resigns")) {
                printf("%s resigns: you win\n", g->peer);
                mc_message_free(m);
                return EXIT_DECLINED;
            }
            printf("refused End from %s: the game is not over\n", g->peer);
            mc_message_free(m);
            continue;
        }
        cell = check_move(g, m);
        if (cell) {
            g->cells[cell - 1] = g->theirs;
            g->moves++;
            snprintf(g->last_id, sizeof(g->last_id), "%s", mc_message_message_id(m));
            snprintf(who, sizeof(who), "%s, signature verified: %s", g->peer,
                     mc_message_property(m, MC_PROP_SENDER_CERTIFICATE));
            announce(g, g->moves, cell, who);
        }
        mc_message_free(m);
        if (cell)
            return 0;
    }
}

static void print_result(const game *g, const char *confirmed)
{
    char res[32], board[12];
    result_text(res, sizeof(res), g);
    board_text(board, g);
    printf("game over: %s", res);
    if (winner(g->cells))
        printf(" - %s", winner(g->cells) == g->mine ? "you win" : "you lose");
    printf("\nfinal board: %s after %d moves (%s)\n", board, g->moves, confirmed);
}

/* The game has ended: the player who made the last move waits for the
 * other's End (its verdict must match); the other sends it. */
static int finish(game *g, bool my_last)
{
    char res[32], board[12], inner[128], theirs[32], their_board[16];
    mc_message *m = NULL;
    size_t len;
    const char *body;
    int rc;
    result_text(res, sizeof(res), g);
    board_text(board, g);
    if (!my_last) {
        snprintf(inner, sizeof(inner), "<Moves>%d</Moves><Result>%s</Result><Board>%s</Board>", g->moves, res,
                 board);
        if (send_body(g, "End", inner))
            return EXIT_ERROR;
        print_result(g, "End sent");
        return EXIT_GAME;
    }
    while (!(rc = next_message(&m, g, "End", NULL))) {
        body = mc_message_body(m, &len);
        bool same = field(theirs, sizeof(theirs), body, len, "Result") && !strcmp(theirs, res) &&
                    field(their_board, sizeof(their_board), body, len, "Board") &&
                    !strcmp(their_board, board) && field_int(body, len, "Moves", 0, 9) == g->moves;
        const char *rel = mc_message_relates_to(m);
        same = same && rel && !strcmp(rel, g->last_id);
        mc_message_free(m);
        if (same)
            break;
        printf("refused End from %s: it does not match this board\n", g->peer);
    }
    if (rc)
        return rc;
    print_result(g, "confirmed by the other player");
    return EXIT_GAME;
}

static int play(game *g)
{
    int rc = 0;
    bool my_last = false;
    memset(g->cells, ' ', sizeof(g->cells));
    print_board(g);
    fflush(stdout);
    while (!rc && !finished(g)) {
        my_last = symbol_of_move(g->moves + 1) == g->mine;
        rc = my_last ? my_move(g) : their_move(g);
    }
    return rc ? rc : finish(g, my_last);
}

static void new_game_id(char *out, size_t size)
{
    unsigned char r[6] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(r, 1, sizeof(r), f) != sizeof(r)) {
        unsigned long v = (unsigned long)time(NULL) ^ ((unsigned long)getpid() << 16);
        memcpy(r, &v, sizeof(r) < sizeof(v) ? sizeof(r) : sizeof(v));
    }
    if (f)
        fclose(f);
    snprintf(out, size, "g-%02x%02x%02x%02x%02x%02x", r[0], r[1], r[2], r[3], r[4], r[5]);
}

static int invite(game *g)
{
    mc_message *m = NULL;
    char sym[8];
    size_t len;
    const char *body;
    int rc;
    new_game_id(g->game, sizeof(g->game));
    g->mine = 'X';
    g->theirs = 'O';
    if (open_output(g) || send_body(g, "Invite", "<Symbol>X</Symbol>"))
        return EXIT_ERROR;
    printf("invited %s to game %s; you play X and move first\n", g->peer, g->game);
    printf("waiting for %s to accept...\n", g->peer);
    fflush(stdout);
    for (;;) {
        if ((rc = next_message(&m, g, "Accept", "Decline")))
            return rc;
        const char *rel = mc_message_relates_to(m);
        body = mc_message_body(m, &len);
        if (!rel || strcmp(rel, g->last_id)) {
            printf("refused answer from %s: it does not answer this invitation\n", g->peer);
        } else if (!strcmp(mc_message_action(m), NS ":Decline")) {
            printf("%s declined the game\n", g->peer);
            mc_message_free(m);
            return EXIT_DECLINED;
        } else if (field(sym, sizeof(sym), body, len, "Symbol") && !strcmp(sym, "O")) {
            break;
        } else {
            printf("refused Accept from %s: it must take O\n", g->peer);
        }
        mc_message_free(m);
    }
    snprintf(g->last_id, sizeof(g->last_id), "%s", mc_message_message_id(m));
    printf("%s accepted (signature verified: %s)\n", g->peer,
           mc_message_property(m, MC_PROP_SENDER_CERTIFICATE));
    mc_message_free(m);
    return play(g);
}

static bool ask_accept(const game *g)
{
    char line[16];
    if (g->opt->auto_play)
        return true;
    printf("accept the game from %s? [y/n] ", g->peer);
    fflush(stdout);
    return fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y');
}

static int wait_for_invitation(game *g)
{
    mc_message *m = NULL;
    char sym[8], signer[ADDR_MAX];
    size_t len;
    const char *body;
    int rc;
    g->mine = 'O';
    g->theirs = 'X';
    printf("%s waiting for an invitation%s%s...\n", g->me, g->peer[0] ? " from " : "", g->peer);
    fflush(stdout);
    for (;;) {
        if ((rc = next_message(&m, g, "Invite", NULL)))
            return rc;
        body = mc_message_body(m, &len);
        if (field(g->game, sizeof(g->game), body, len, "Game") &&
            field(sym, sizeof(sym), body, len, "Symbol") && !strcmp(sym, "X"))
            break;
        printf("refused Invite: no game id, or not X for the inviter\n");
        g->game[0] = '\0';
        if (!g->opt->other) /* the peer is the first inviter that counts */
            g->peer[0] = '\0';
        mc_message_free(m);
    }
    snprintf(signer, sizeof(signer), "%s", g->peer);
    snprintf(g->last_id, sizeof(g->last_id), "%s", mc_message_message_id(m));
    printf("invitation from %s to game %s (signature verified: %s)\n", signer, g->game,
           mc_message_property(m, MC_PROP_SENDER_CERTIFICATE));
    mc_message_free(m);
    if (open_output(g))
        return EXIT_ERROR;
    if (!ask_accept(g)) {
        send_body(g, "Decline", "");
        printf("declined\n");
        return EXIT_DECLINED;
    }
    if (send_body(g, "Accept", "<Symbol>O</Symbol>"))
        return EXIT_ERROR;
    printf("accepted; you play O, %s moves first\n", g->peer);
    return play(g);
}

/* ---- setting up ---- */

static int set(mc_binding *b, const char *name, const char *value)
{
    int rc = mc_binding_set(b, name, value);
    if (rc)
        fprintf(stderr, "tictactoe: %s: %s\n", name, mc_error_last());
    return rc;
}

static int set_certs(mc_binding *b, const char *dir, const char *me)
{
    char path[4096];
    if (set(b, "security_mode", "message"))
        return -1;
    snprintf(path, sizeof(path), "%s/certs/%s.pem", dir, me);
    if (set(b, "certificate", path))
        return -1;
    snprintf(path, sizeof(path), "%s/private/%s.key", dir, me);
    if (set(b, "private_key", path))
        return -1;
    snprintf(path, sizeof(path), "%s/certs", dir);
    if (set(b, "recipient_certificate", path))
        return -1;
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    return set(b, "security_ca_file", path);
}

/* The binding: Maildir under STORE, or the config file; security on. */
static int make_binding(mc_binding **out, const options *o)
{
    mc_binding *b = NULL;
    char *mode = NULL;
    int rc = o->config ? mc_binding_new_from_config(&b, o->config) : mc_binding_new(&b, "maildir");
    if (rc) {
        fprintf(stderr, "tictactoe: %s: %s\n", o->config ? o->config : "binding", mc_error_last());
        return -1;
    }
    if ((!o->config && set(b, "maildir_root", o->store)) || set(b, "address", o->me) ||
        (o->certs && set_certs(b, o->certs, o->me)))
        goto fail;
    if (mc_binding_get(&mode, b, "security_mode") || strcmp(mode, "message")) {
        fprintf(stderr,
                "tictactoe: message security is off: give --certs DIR (make-certs.sh), or set "
                "security_mode = message and its certificates in %s\n",
                o->config ? o->config : "the configuration");
        goto fail;
    }
    mc_free(mode);
    *out = b;
    return 0;
fail:
    mc_free(mode);
    mc_binding_free(b);
    return -1;
}

static int open_game(game *g, const options *o)
{
    mc_binding *b = NULL;
    char listen[] = "net.mail://" CHANNEL "#";
    int rc = make_binding(&b, o);
    if (!rc && mc_transport_new(&g->t, b)) {
        fprintf(stderr, "tictactoe: %s\n", mc_error_last());
        rc = -1;
    }
    mc_binding_free(b);
    if (rc || mc_channel_factory_new(&g->f, g->t) || mc_channel_listener_new(&g->l, g->t, listen) ||
        mc_channel_listener_accept_channel(&g->in, g->l, -1)) {
        if (!rc)
            fprintf(stderr, "tictactoe: %s: %s\n", listen, mc_error_last());
        return -1;
    }
    snprintf(g->me, sizeof(g->me), "%s", mc_transport_address(g->t));
    return 0;
}

static void close_game(game *g)
{
    if (g->in)
        mc_input_channel_close(g->in); /* deletes what was received */
    mc_input_channel_free(g->in);
    mc_channel_listener_free(g->l);
    mc_output_channel_free(g->out);
    mc_channel_factory_free(g->f);
    mc_transport_free(g->t);
}

static int usage(void)
{
    fprintf(stderr,
            "usage: tictactoe [options] STORE MY_ADDRESS invite OTHER_ADDRESS\n"
            "       tictactoe [options] STORE MY_ADDRESS wait [OTHER_ADDRESS]\n"
            "       tictactoe [options] --config FILE MY_ADDRESS invite|wait ...\n"
            "  STORE          a Maildir root both players share\n"
            "  --config FILE  any binding (binding = maildir|mail|exchange) with its security settings\n"
            "  --certs DIR    certificates made by make-certs.sh (required with STORE)\n"
            "  --auto         play by itself; --delay MS thinks MS before each move\n"
            "  --timeout S    seconds to wait for the other player (600; 0: forever)\n");
    return EXIT_USAGE;
}

static int parse_options(options *o, int argc, char **argv)
{
    static const struct option longs[] = {{"config", required_argument, NULL, 'c'},
                                          {"certs", required_argument, NULL, 'C'},
                                          {"auto", no_argument, NULL, 'a'},
                                          {"delay", required_argument, NULL, 'd'},
                                          {"timeout", required_argument, NULL, 't'},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    int c, need;
    char *end;
    *o = (options){.timeout_s = 600};
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (c == 'c')
            o->config = optarg;
        else if (c == 'C')
            o->certs = optarg;
        else if (c == 'a')
            o->auto_play = true;
        else if (c == 'd' || c == 't') {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 86400000)
                return -1;
            *(c == 'd' ? &o->delay_ms : &o->timeout_s) = v;
        } else
            return -1;
    }
    argv += optind;
    argc -= optind;
    need = o->config ? 0 : 1;
    if (argc < need + 2)
        return -1;
    o->store = o->config ? NULL : argv[0];
    o->me = argv[need];
    o->command = argv[need + 1];
    o->other = argc > need + 2 ? argv[need + 2] : NULL;
    if (argc > need + 3 || (strcmp(o->command, "invite") && strcmp(o->command, "wait")) ||
        (!strcmp(o->command, "invite") && !o->other))
        return -1;
    if (!o->config && !o->certs) {
        fprintf(stderr, "tictactoe: message security needs --certs DIR (see make-certs.sh)\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    options o;
    game g = {.opt = &o};
    int rc;
    if (parse_options(&o, argc, argv))
        return usage();
    setvbuf(stdout, NULL, _IOLBF, 0);
    mc_init();
    mc_log_set_callback(on_log, MC_LOG_INFO, NULL);
    if (open_game(&g, &o))
        rc = EXIT_ERROR;
    else {
        if (o.other)
            snprintf(g.peer, sizeof(g.peer), "%s", o.other);
        if (o.other && !strcasecmp(o.other, g.me)) {
            fprintf(stderr, "tictactoe: you cannot play against yourself\n");
            rc = EXIT_USAGE;
        } else
            rc = !strcmp(o.command, "invite") ? invite(&g) : wait_for_invitation(&g);
        if (rc == EXIT_NO_ANSWER)
            printf("no answer from %s within %ld s: giving up\n", g.peer[0] ? g.peer : "anyone", o.timeout_s);
    }
    close_game(&g);
    mc_log_set_callback(NULL, MC_LOG_NONE, NULL);
    mc_shutdown();
    return rc;
}
