// Opens the file behind an `nmea:PATH` source for reading. A serial port is read as a terminal
// (non-blocking, so stopping the agent never waits on a read); its baud rate and line settings are
// left as they are and must be set outside the agent, e.g. `stty -F /dev/ttyUSB0 9600 raw -echo`.

import fs from "node:fs";
import tty from "node:tty";

/** A readable stream of the file, FIFO or serial device at `file`; throws when it cannot be opened. */
export function openDevice(file: string): NodeJS.ReadableStream {
  const stat = fs.statSync(file);
  if (stat.isDirectory()) throw new Error(`${file} is a directory`);
  if (stat.isCharacterDevice()) {
    // O_NONBLOCK: opening a serial port must not wait for a carrier; O_NOCTTY: never become the
    // agent's controlling terminal.
    const { O_RDONLY, O_NOCTTY, O_NONBLOCK } = fs.constants;
    const fd = fs.openSync(file, O_RDONLY | O_NOCTTY | O_NONBLOCK);
    if (tty.isatty(fd)) return new tty.ReadStream(fd);
    fs.closeSync(fd);
  }
  // Regular files are read to their end; a FIFO until its writer closes it.
  return fs.createReadStream(file);
}
