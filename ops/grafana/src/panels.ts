// The few panel shapes our dashboards use, on Grafana's foundation SDK, so every dashboard file reads as a
// list of titles and PromQL. Every query goes to the provisioned datasource (uid contimg-prometheus); every
// dashboard is tagged contimg and links to the others.
import * as common from '@grafana/grafana-foundation-sdk/common';
import {
  DashboardBuilder,
  DashboardCursorSync,
  DashboardLinkBuilder,
  DashboardLinkType,
  MappingType,
  RowBuilder,
  ThresholdsConfigBuilder,
  ThresholdsMode,
  type ValueMapping,
} from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder, PromQueryFormat } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimelineBuilder } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as TableBuilder } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeseriesBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** The datasource ops/grafana/provisioning/datasources/contimg.yaml provisions. */
export const DATASOURCE = { type: 'prometheus', uid: 'contimg-prometheus' };

export interface Query {
  expr: string;
  legend?: string;
  /** Evaluate once at the end of the range (tables, stats of "now"). */
  instant?: boolean;
}

export const q = (expr: string, legend?: string): Query => ({ expr, legend });
export const instant = (expr: string, legend?: string): Query => ({ expr, legend, instant: true });

/** A quantile of a histogram over the last hour, summed `by` the given labels (which must include `le`). */
export const quantile = (phi: number, histogram: string, by: string, legend?: string): Query =>
  q(`histogram_quantile(${phi}, sum by (${by}) (rate(${histogram}_bucket[1h])))`, legend);

function target(query: Query, i: number, asTable: boolean): DataqueryBuilder {
  const b = new DataqueryBuilder()
    .datasource(DATASOURCE)
    .refId(String.fromCharCode(65 + i))
    .expr(query.expr);
  if (query.legend) b.legendFormat(query.legend);
  if (query.instant) b.instant();
  else b.range();
  // A table shows one row per series with its labels as columns.
  b.format(asTable ? PromQueryFormat.Table : PromQueryFormat.TimeSeries);
  return b;
}

export interface PanelOpts {
  unit?: string;
  description?: string;
  /** Grid width (of 24) and height. */
  w?: number;
  h?: number;
  min?: number;
  max?: number;
  decimals?: number;
  /** [value, colour] steps above the base colour (green unless `base` says otherwise). */
  thresholds?: [number, string][];
  base?: string;
  mappings?: ValueMapping[];
}

function steps(o: PanelOpts): ThresholdsConfigBuilder {
  return new ThresholdsConfigBuilder()
    .mode(ThresholdsMode.Absolute)
    .steps([
      { value: null, color: o.base ?? 'green' },
      ...(o.thresholds ?? []).map(([value, color]) => ({ value, color })),
    ]);
}

type Common = StatBuilder | TimeseriesBuilder | TableBuilder | StateTimelineBuilder;

function apply<T extends Common>(b: T, title: string, queries: Query[], o: PanelOpts): T {
  b.title(title)
    .datasource(DATASOURCE)
    .span(o.w ?? 12)
    .height(o.h ?? 8)
    .thresholds(steps(o));
  queries.forEach((query, i) => b.withTarget(target(query, i, b instanceof TableBuilder)));
  if (o.unit) b.unit(o.unit);
  if (o.description) b.description(o.description);
  if (o.min !== undefined) b.min(o.min);
  if (o.max !== undefined) b.max(o.max);
  if (o.decimals !== undefined) b.decimals(o.decimals);
  if (o.mappings) b.mappings(o.mappings);
  return b;
}

const legend = () =>
  new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.List)
    .placement(common.LegendPlacement.Bottom);

export function timeseries(
  title: string,
  queries: Query[],
  o: PanelOpts & { stack?: boolean; bars?: boolean } = {},
): TimeseriesBuilder {
  const b = apply(new TimeseriesBuilder(), title, queries, o).legend(legend()).fillOpacity(10);
  if (o.stack) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
  if (o.bars) b.drawStyle(common.GraphDrawStyle.Bars).fillOpacity(60);
  return b;
}

export function stat(title: string, queries: Query[], o: PanelOpts = {}): StatBuilder {
  return apply(new StatBuilder(), title, queries, { w: 6, h: 5, ...o })
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

/**
 * A table of instant values, one row per series. With `columns` (one name per query), the queries' frames are
 * merged into one row per label set, each query's value in its named column.
 */
export function table(
  title: string,
  queries: Query[],
  o: PanelOpts & { columns?: string[] } = {},
): TableBuilder {
  const b = apply(new TableBuilder(), title, queries, o);
  if (o.columns) {
    if (o.columns.length !== queries.length) throw new Error(`${title}: one column name per query`);
    const renameByName = Object.fromEntries(
      o.columns.map((c, i) => [`Value #${String.fromCharCode(65 + i)}`, c]),
    );
    b.withTransformation({ id: 'merge', options: {} }).withTransformation({
      id: 'organize',
      options: { excludeByName: { Time: true }, renameByName },
    });
  }
  return b;
}

export function stateTimeline(title: string, queries: Query[], o: PanelOpts = {}): StateTimelineBuilder {
  return apply(new StateTimelineBuilder(), title, queries, o);
}

export const row = (title: string): RowBuilder => new RowBuilder(title);

/** Value → text and colour, for 0/1 gauges such as up, readiness or "paused". */
export function valueText(map: Record<string, [string, string]>): ValueMapping[] {
  const options: Record<string, { text: string; color: string; index: number }> = {};
  Object.entries(map).forEach(([value, [text, color]], index) => (options[value] = { text, color, index }));
  return [{ type: MappingType.ValueToText, options }];
}

export const UP_DOWN = valueText({ '1': ['up', 'green'], '0': ['down', 'red'] });
export const READY = valueText({ '1': ['ready', 'green'], '0': ['not ready', 'orange'] });

/** A contimg dashboard: fixed uid, UTC, shared crosshair, 30 s refresh, links to the other contimg dashboards. */
export function dashboard(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['contimg'])
    .timezone('utc')
    .tooltip(DashboardCursorSync.Crosshair)
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .link(
      new DashboardLinkBuilder('contimg')
        .type(DashboardLinkType.Dashboards)
        .tags(['contimg'])
        .asDropdown(true)
        .keepTime(true),
    );
}

/** Panels more than one dashboard shows, defined once. */
export const shared = {
  nextTransits: (title: string) =>
    table(
      title,
      [instant('sort(contimg_pointing_next_transit_timestamp_seconds - time())', '{{calibrator}}')],
      { w: 12, unit: 'dtdurations', description: 'Time to the next transit of each scheduled calibrator.' },
    ),
  declination: () =>
    stat('Pointing declination', [instant('contimg_pointing_declination_degrees', 'dec')], {
      w: 6,
      unit: 'degree',
      decimals: 2,
      base: 'blue',
    }),
};
