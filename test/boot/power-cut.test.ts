/**
 * Power cuts during the OTA state machine: cut the power at every flash write and erase of an
 * update cycle (begin, write image, set boot partition, first boot, mark valid), at three
 * tear points each (nothing applied, half, all but the last byte), then power up again. The
 * device must always boot an image — the old one, or the new one when its first boot is
 * simply retried; the new one is kept only once it has confirmed itself — and must be able to
 * finish the update afterwards.
 */
import * as fs from 'node:fs';
import { installInitialImage, type AppSlot, type BootResult } from '../../host-sim/boot/bootloader';
import { OtaImgState } from '../../host-sim/boot/otadata';
import type { FlashImage, FlashMutation } from '../../host-sim/flash/flash-image';
import { PowerCutError } from '../../host-sim/flash/power-cut';
import { writeImageToSlot } from '../../host-sim/ota/image';
import type { PartitionView } from '../../host-sim/flash/partition';
import { useTempDir } from '../flash/temp-dir';
import { appImage, otaBoard } from './ota-board';
import { SimDevice } from './sim-device';

const newPath = useTempDir();
const TEARS = [0, 0.5, 0.999];

/** Cuts the power at the `at`-th mutation counted across reboots; records every mutation. */
class CutPlan {
  seen = 0;
  fired = false;
  step = '';
  readonly mutations: { step: string; op: FlashMutation }[] = [];

  constructor(
    readonly at = -1,
    readonly tear = 0,
  ) {}

  install = (flash: FlashImage): void => {
    flash.onBeforeMutation = (op) => {
      const index = this.seen++;
      this.mutations.push({ step: this.step, op });
      if (this.fired) throw new PowerCutError(op, 0);
      if (index === this.at) {
        this.fired = true;
        throw new PowerCutError(op, Math.floor(this.tear * op.length));
      }
    };
  };
}

function describeMutation(op: FlashMutation): string {
  const partition = otaBoard.partitions.find((p) => op.offset >= p.offset && op.offset < p.offset + p.size)!;
  const where =
    partition.label === 'otadata'
      ? `otadata[${(op.offset - partition.offset) / 0x1000}]`
      : `${partition.label}+0x${(op.offset - partition.offset).toString(16)}`;
  return `${op.kind} ${where}${op.kind === 'write' ? ` (${op.length} bytes)` : ''}`;
}

interface Cycle {
  from: AppSlot;
  to: AppSlot;
  oldVersion: string;
  newVersion: string;
  image: Uint8Array;
}

/** The update as the OTA agent and the bootloader will run it, step by step. */
function runCycle(device: SimDevice, plan: CutPlan, cycle: Cycle): BootResult {
  plan.step = 'beginUpdate';
  const slot: PartitionView = device.ops(cycle.from).beginUpdate(cycle.to, cycle.image.length);
  plan.step = 'write image';
  writeImageToSlot(slot, cycle.image, { erase: 'none' });
  plan.step = 'setBootPartition';
  device.ops(cycle.from).setBootPartition(cycle.to);
  plan.step = 'first boot';
  const first = device.reboot();
  expect(first.code).toBe('first-boot');
  plan.step = 'markValid';
  device.ops(first.slot).markValid();
  plan.step = 'boot';
  return device.reboot();
}

function baseline(prepare: (device: SimDevice) => void): string {
  const file = newPath();
  const device = new SimDevice(file);
  prepare(device);
  device.close();
  return file;
}

function exploreCycle(baselineFile: string, cycle: Cycle) {
  // Dry run: every mutation of the cycle, in order.
  const dryFile = newPath();
  fs.copyFileSync(baselineFile, dryFile);
  const dry = new CutPlan();
  const dryDevice = new SimDevice(dryFile, otaBoard, dry.install);
  const done = runCycle(dryDevice, dry, cycle);
  dryDevice.close();
  expect(done.image.version).toBe(cycle.newVersion);
  const points = dry.mutations.map((m) => `${m.step}: ${describeMutation(m.op)}`);

  const outcomes: string[] = [];
  for (let at = 0; at < dry.mutations.length; at++) {
    for (const tear of TEARS) {
      const file = newPath();
      fs.copyFileSync(baselineFile, file);
      const plan = new CutPlan(at, tear);
      const device = new SimDevice(file, otaBoard, plan.install);
      let thrown: unknown;
      try {
        runCycle(device, plan, cycle);
      } catch (error) {
        thrown = error;
      }
      device.close();
      expect(thrown).toBeInstanceOf(PowerCutError);

      // Power comes back: the device must boot something — the old image, or the new one on
      // a retried first boot when the cut fell on the bootloader's erase before it took effect.
      const after = new SimDevice(file);
      try {
        let result = after.reboot();
        outcomes.push(`${points[at]} @${tear}: ${result.image.version} ${result.code}`);
        expect([cycle.oldVersion, cycle.newVersion]).toContain(result.image.version);
        if (result.image.version === cycle.newVersion) {
          expect({ point: points[at], tear, code: result.code }).toEqual({ point: 'first boot: erase otadata[' + (cycle.to === 'ota_0' ? 0 : 1) + ']', tear: 0, code: 'first-boot' });
          // …and the update can be completed from there: confirm and reboot.
          after.ops(result.slot).markValid();
          result = after.reboot();
        } else {
          expect(result.slot).toBe(cycle.from);
          // …or run again from the start.
          result = runCycle(after, new CutPlan(), cycle);
        }
        expect(result).toMatchObject({ slot: cycle.to, code: 'selected', rolledBack: false, state: OtaImgState.VALID });
        expect(result.image.version).toBe(cycle.newVersion);
      } finally {
        after.close();
      }
    }
  }
  return { points, outcomes };
}

describe('power cut at every flash operation of an update', () => {
  const v1 = appImage('1.0.0');
  const v2 = appImage('1.1.0');
  const v3 = appImage('1.2.0');

  test('first update (v1 in ota_0 → v2 in ota_1): every cut boots v1 (or retries v2\'s first boot); the update then completes', () => {
    const file = baseline((device) => {
      installInitialImage(device.flash, v1);
      device.reboot();
    });
    const { points, outcomes } = exploreCycle(file, { from: 'ota_0', to: 'ota_1', oldVersion: '1.0.0', newVersion: '1.1.0', image: v2 });
    expect(outcomes.filter((o) => o.includes(': 1.1.0'))).toEqual(['first boot: erase otadata[1] @0: 1.1.0 first-boot']);
    expect(points).toEqual([
      'beginUpdate: erase ota_1+0x0',
      'beginUpdate: erase ota_1+0x1000',
      'write image: write ota_1+0x0 (4096 bytes)',
      `write image: write ota_1+0x1000 (${v2.length - 4096} bytes)`,
      'setBootPartition: erase otadata[1]',
      'setBootPartition: write otadata[1] (32 bytes)',
      'first boot: erase otadata[1]',
      'first boot: write otadata[1] (32 bytes)',
      'markValid: erase otadata[1]',
      'markValid: write otadata[1] (32 bytes)',
    ]);
  });

  test('second update (v2 in ota_1 → v3 over v1 in ota_0): every cut boots v2, never the half-overwritten v1', () => {
    const file = baseline((device) => {
      installInitialImage(device.flash, v1);
      device.reboot();
      runCycle(device, new CutPlan(), { from: 'ota_0', to: 'ota_1', oldVersion: '1.0.0', newVersion: '1.1.0', image: v2 });
    });
    const { points, outcomes } = exploreCycle(file, { from: 'ota_1', to: 'ota_0', oldVersion: '1.1.0', newVersion: '1.2.0', image: v3 });
    expect(outcomes.some((o) => o.includes('1.0.0'))).toBe(false);
    expect(points).toEqual([
      'beginUpdate: erase ota_0+0x0',
      'beginUpdate: erase ota_0+0x1000',
      'beginUpdate: erase otadata[0]', // esp_ota_invalidate_inactive_ota_data_slot: v1's entry
      'write image: write ota_0+0x0 (4096 bytes)',
      `write image: write ota_0+0x1000 (${v3.length - 4096} bytes)`,
      'setBootPartition: erase otadata[0]',
      'setBootPartition: write otadata[0] (32 bytes)',
      'first boot: erase otadata[0]',
      'first boot: write otadata[0] (32 bytes)',
      'markValid: erase otadata[0]',
      'markValid: write otadata[0] (32 bytes)',
    ]);
  });

  test('rollback paths: cuts while the bootloader aborts a pending image, or while the app marks itself invalid, boot the old image', () => {
    const pending = baseline((device) => {
      installInitialImage(device.flash, v1);
      device.reboot();
      device.stageUpdate('ota_0', v2);
      expect(device.reboot().state).toBe(OtaImgState.PENDING_VERIFY);
    });
    const scenarios: [string, (device: SimDevice) => void, number][] = [
      ['bootloader PENDING_VERIFY → ABORTED', (device) => void device.reboot(), 2],
      ['markInvalidAndRollback', (device) => device.ops('ota_1').markInvalidAndRollback(), 2],
    ];
    for (const [name, action, mutations] of scenarios) {
      for (let at = 0; at < mutations; at++) {
        for (const tear of TEARS) {
          const file = newPath();
          fs.copyFileSync(pending, file);
          const plan = new CutPlan(at, tear);
          const device = new SimDevice(file, otaBoard, plan.install);
          expect(() => action(device)).toThrow(PowerCutError);
          device.close();
          const after = new SimDevice(file);
          try {
            const result = after.reboot();
            expect({ name, at, tear, slot: result.slot, version: result.image.version }).toEqual({ name, at, tear, slot: 'ota_0', version: '1.0.0' });
          } finally {
            after.close();
          }
        }
      }
    }
  });

  test('a cut while writing the initial otadata (set_actual_ota_seq) still boots the image, and updates still work', () => {
    const fresh = baseline((device) => installInitialImage(device.flash, v1));
    for (let at = 0; at < 2; at++) {
      for (const tear of TEARS) {
        const file = newPath();
        fs.copyFileSync(fresh, file);
        const plan = new CutPlan(at, tear);
        const device = new SimDevice(file, otaBoard, plan.install);
        expect(() => device.reboot()).toThrow(PowerCutError);
        device.close();
        const after = new SimDevice(file);
        try {
          // A torn entry (seq written, CRC not) is neither empty nor valid: ESP-IDF then tries
          // every partition on every boot and leaves otadata alone until the next update.
          for (let boots = 0; boots < 2; boots++) {
            const result = after.reboot();
            expect(result.slot).toBe('ota_0');
            expect(['initial', 'selected', 'otadata-invalid']).toContain(result.code);
          }
          const updated = runCycle(after, new CutPlan(), { from: 'ota_0', to: 'ota_1', oldVersion: '1.0.0', newVersion: '1.1.0', image: v2 });
          expect(updated).toMatchObject({ slot: 'ota_1', code: 'selected', state: OtaImgState.VALID });
        } finally {
          after.close();
        }
      }
    }
  });
});
