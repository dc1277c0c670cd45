// The pointing monitor: sidereal time, pointing declination over time, and the calibrator transit schedule.
import { dashboard, instant, q, row, shared, stat, stateTimeline, timeseries, valueText } from '../panels.js';

export const file = 'contimg-pointing.json';

export function build() {
  return dashboard(
    'contimg-pointing',
    'contimg / pointing',
    'Local sidereal time, the pointing declination read from the data, and the calibrator transit schedule.',
  )
    .withRow(row('Now'))
    .withPanel(
      stat(
        'Local sidereal time (apparent)',
        [instant('contimg_pointing_local_sidereal_time_seconds{kind="apparent"} / 3600', 'LST')],
        { w: 6, unit: 'h', decimals: 3, base: 'blue' },
      ),
    )
    .withPanel(shared.declination())
    .withPanel(
      stat('Upcoming transits', [instant('contimg_pointing_upcoming_transits', 'transits')], {
        w: 6,
        base: 'red',
        thresholds: [[1, 'green']],
        description: 'ContimgTransitScheduleEmpty fires after 30 minutes at 0.',
      }),
    )
    .withPanel(
      stat('Header data', [instant('contimg_pointing_data_stale', 'data')], {
        w: 6,
        mappings: valueText({ '0': ['fresh', 'green'], '1': ['stale', 'red'] }),
      }),
    )
    .withRow(row('Pointing'))
    .withPanel(
      timeseries(
        'Pointing declination',
        [q('contimg_pointing_declination_degrees', 'declination'), q('contimg_pointing_slewing', 'slewing')],
        { w: 24, unit: 'degree', decimals: 2 },
      ),
    )
    .withRow(row('Transit schedule'))
    .withPanel(shared.nextTransits('Next transit per calibrator'))
    .withPanel(
      stateTimeline(
        'In an active transit window',
        [q('max by (calibrator) (contimg_pointing_calibrator_in_window)', '{{calibrator}}')],
        { w: 12, mappings: valueText({ '0': ['—', 'transparent'], '1': ['in window', 'green'] }) },
      ),
    )
    .withPanel(
      timeseries(
        'Transit windows closed in 24 h, with and without data',
        [
          q(
            'sum by (calibrator, has_data) (increase(contimg_pointing_transit_windows_total[24h])) > 0',
            '{{calibrator}} data={{has_data}}',
          ),
        ],
        { w: 12, min: 0 },
      ),
    )
    .withPanel(
      timeseries('Sidereal time', [q('contimg_pointing_local_sidereal_time_seconds / 3600', '{{kind}}')], {
        w: 12,
        unit: 'h',
        min: 0,
        max: 24,
      }),
    )
    .withRow(row('Inputs'))
    .withPanel(
      timeseries(
        'Header reads by result',
        [q('sum by (result) (rate(contimg_pointing_header_reads_total[15m])) * 3600', '{{result}}')],
        { w: 12, unit: 'short', description: 'sb00 headers read per hour.' },
      ),
    )
    .withPanel(
      timeseries(
        'Since the newest observation',
        [q('time() - contimg_pointing_last_observation_timestamp_seconds', 'age')],
        { w: 6, unit: 's', thresholds: [[900, 'orange']] },
      ),
    )
    .withPanel(
      timeseries(
        'UT1−UTC and IERS table age',
        [
          q('contimg_pointing_dut1_seconds', 'UT1−UTC (s)'),
          q('contimg_pointing_eop_age_seconds / 86400', 'table age (days)'),
        ],
        { w: 6 },
      ),
    );
}
