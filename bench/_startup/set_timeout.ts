// Start-up probe: one setTimeout. Deno defines the timer globals as lazy getters, so the first read
// of `setTimeout` loads the timers module; the client's handshake deadline pays for it.
clearTimeout(setTimeout(() => {}, 0));
