#ifndef RESTORE_CONSOLE_CNCURSESW_SHIM_H
#define RESTORE_CONSOLE_CNCURSESW_SHIM_H
// pkg-config drops this define; without it the wide-character API (get_wch, setcchar) is hidden.
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700
#endif
#include <wchar.h>
#include <locale.h>
#include <ncursesw/ncurses.h>

// Macros and globals that Swift cannot see, as functions.
static inline WINDOW *cnc_stdscr(void) { return stdscr; }
static inline int cnc_lines(void) { return LINES; }
static inline int cnc_cols(void) { return COLS; }
static inline void cnc_getmaxyx(WINDOW *w, int *y, int *x) { int yy, xx; getmaxyx(w, yy, xx); *y = yy; *x = xx; }
static inline attr_t cnc_a_normal(void) { return A_NORMAL; }
static inline attr_t cnc_a_bold(void) { return A_BOLD; }
static inline attr_t cnc_a_dim(void) { return A_DIM; }
static inline attr_t cnc_a_reverse(void) { return A_REVERSE; }
static inline attr_t cnc_a_underline(void) { return A_UNDERLINE; }
static inline int cnc_key_resize(void) { return KEY_RESIZE; }
static inline int cnc_key_mouse(void) { return KEY_MOUSE; }
static inline int cnc_color_pairs(void) { return COLOR_PAIRS; }
static inline int cnc_colors(void) { return COLORS; }
static inline int cnc_color_pair(int n) { return COLOR_PAIR(n); }
static inline mmask_t cnc_all_mouse_events(void) { return ALL_MOUSE_EVENTS; }
static inline mmask_t cnc_button1_clicked(void) { return BUTTON1_CLICKED | BUTTON1_PRESSED; }
static inline mmask_t cnc_wheel_up(void) { return BUTTON4_PRESSED; }
static inline mmask_t cnc_wheel_down(void) {
#ifdef BUTTON5_PRESSED
    return BUTTON5_PRESSED;
#else
    return 0;
#endif
}
static inline int cnc_key_code_yes(void) { return KEY_CODE_YES; }
// Columns a character takes on the terminal (-1 for non-printable), per the current locale.

#endif
