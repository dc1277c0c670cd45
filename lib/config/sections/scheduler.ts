// Config section `scheduler` (the daemon is not built yet; its port is reserved).
import { z } from 'zod';
import { portField } from '../fields.js';

export function schedulerSection() {
  return z.strictObject({
    port: portField(9312),
  });
}
