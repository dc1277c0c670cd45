// Config section `pointingMonitor` (owned by daemons/pointing-monitor).
import { z } from 'zod';
import { portField, type SchemaContext } from '../fields.js';

export function pointingMonitorSection(_ctx: SchemaContext) {
  return z.strictObject({
    port: portField(9311),
  });
}
