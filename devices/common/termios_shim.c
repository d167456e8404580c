/* libhilbench-termios-shim.so: glibc's termios calls routed through ioctl(), for the
 * harness process only, and only under emulation (LD_PRELOAD beside libumockdev-preload).
 *
 * glibc 2.36 implements tcgetattr, tcsetattr, tcdrain, tcflush, tcflow and tcsendbreak
 * with a direct ioctl syscall, which umockdev's preload never sees: the handler of an
 * emulated port cannot keep parity or data bits, and glibc's read-back after TCSETS fails
 * sp_set_parity(EVEN) / sp_set_bits(7) with EINVAL. These definitions do exactly what glibc
 * 2.36 does (glibc termios <-> 36-byte kernel termios with 19 c_cc; the TCSANOW read-back
 * check), but call the ioctl() symbol, which the preload provides (a plain syscall for any
 * fd that is not an emulated node). Alone, this library changes no behaviour.
 * Re-check against glibc when the base image's glibc changes (2.42 changed the speed
 * encoding). See ../shared/reference/serial-emulation.md and docs/ARCHITECTURE.md.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define KERNEL_NCCS 19
#define IBAUD0 020000000000

struct kernel_termios {
  tcflag_t c_iflag, c_oflag, c_cflag, c_lflag;
  cc_t c_line;
  cc_t c_cc[KERNEL_NCCS];
};

int tcgetattr(int fd, struct termios *termios_p) {
  struct kernel_termios k;
  int result = ioctl(fd, TCGETS, &k);
  if (result == 0) {
    termios_p->c_iflag = k.c_iflag;
    termios_p->c_oflag = k.c_oflag;
    termios_p->c_cflag = k.c_cflag;
    termios_p->c_lflag = k.c_lflag;
    termios_p->c_line = k.c_line;
    termios_p->c_ispeed = k.c_cflag & (CBAUD | CBAUDEX);
    termios_p->c_ospeed = k.c_cflag & (CBAUD | CBAUDEX);
    memcpy(termios_p->c_cc, k.c_cc, KERNEL_NCCS);
    memset(termios_p->c_cc + KERNEL_NCCS, _POSIX_VDISABLE, NCCS - KERNEL_NCCS);
  }
  return result;
}

int tcsetattr(int fd, int optional_actions, const struct termios *termios_p) {
  unsigned long cmd;
  switch (optional_actions) {
    case TCSANOW: cmd = TCSETS; break;
    case TCSADRAIN: cmd = TCSETSW; break;
    case TCSAFLUSH: cmd = TCSETSF; break;
    default: errno = EINVAL; return -1;
  }
  struct kernel_termios k;
  k.c_iflag = termios_p->c_iflag & ~IBAUD0;
  k.c_oflag = termios_p->c_oflag;
  k.c_cflag = termios_p->c_cflag;
  k.c_lflag = termios_p->c_lflag;
  k.c_line = termios_p->c_line;
  memcpy(k.c_cc, termios_p->c_cc, KERNEL_NCCS);
  int result = ioctl(fd, cmd, &k);
  if (result == 0 && cmd == TCSETS) {
    /* As glibc: a pty silently ignores settings it cannot do; read back and complain. */
    int saved = errno;
    if (ioctl(fd, TCGETS, &k) != 0) {
      errno = saved;
      return 0;
    }
    if ((termios_p->c_cflag & (PARENB | CREAD)) != (k.c_cflag & (PARENB | CREAD)) ||
        ((termios_p->c_cflag & CSIZE) && (termios_p->c_cflag & CSIZE) != (k.c_cflag & CSIZE))) {
      errno = EINVAL;
      return -1;
    }
  }
  return result;
}

int tcdrain(int fd) { return ioctl(fd, TCSBRK, 1); }

int tcflush(int fd, int queue_selector) { return ioctl(fd, TCFLSH, queue_selector); }

int tcflow(int fd, int action) { return ioctl(fd, TCXONC, action); }

int tcsendbreak(int fd, int duration) {
  if (duration <= 0) return ioctl(fd, TCSBRK, 0);
  /* As glibc: the driver's TCSBRKP takes tenths of seconds. */
  return ioctl(fd, TCSBRKP, (duration + 99) / 100);
}
