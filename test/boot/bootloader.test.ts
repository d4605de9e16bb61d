import esp32DevkitC from '../../boards/esp32-devkitc';
import { appLayout, boot, BootError, installInitialImage, OtaError, OtaOps } from '../../host-sim/boot/bootloader';
import { encodeOtaSelectEntry, makeOtaSelectEntry, OtaImgState, otaStateName } from '../../host-sim/boot/otadata';
import { bundleFirmware } from '../../host-sim/engines/firmware-bundle';
import { FlashImage } from '../../host-sim/flash/flash-image';
import { PartitionView } from '../../host-sim/flash/partition';
import { buildImage, bundleSource, writeImageToSlot } from '../../host-sim/ota/image';
import { useTempDir } from '../flash/temp-dir';
import { appImage, otaBoard } from './ota-board';
import { SimDevice } from './sim-device';

const newPath = useTempDir();

const v1 = appImage('1.0.0');
const v2 = appImage('1.1.0');
const v3 = appImage('1.2.0');

function withDevice(run: (device: SimDevice) => void): void {
  const device = new SimDevice(newPath());
  try {
    run(device);
  } finally {
    device.close();
  }
}

const states = (device: SimDevice) => device.otadata().map((e) => (e.seq === 0xffffffff ? 'empty' : `${e.seq}:${otaStateName(e.state)}`));

/** A device that was flashed with v1 and has booted once (otadata[0] = seq 1, VALID). */
function flashedWithV1(device: SimDevice) {
  installInitialImage(device.flash, v1);
  return device.reboot();
}

describe('first boot of a freshly flashed device', () => {
  test('with nothing flashed there is nothing to boot: a BootError naming each slot', () => {
    withDevice((device) => {
      let error: unknown;
      try {
        device.reboot();
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BootError);
      const bootError = error as BootError;
      expect(bootError.problems.map((p) => [p.label, p.code])).toEqual([
        ['ota_0', 'empty'],
        ['ota_1', 'empty'],
      ]);
      expect(bootError.message).toMatch(/No bootable app image .* an ESP32 would reset and try again forever\. ota_0: slot ota_0 is all 0xFF \(erased flash\): there is no image; ota_1: slot ota_1 is all 0xFF/);
    });
  });

  test('otadata empty, image in ota_0: boots it and records ota_seq 1 VALID (set_actual_ota_seq)', () => {
    withDevice((device) => {
      installInitialImage(device.flash, v1);
      const result = device.reboot();
      expect(result).toMatchObject({ slot: 'ota_0', code: 'initial', rolledBack: false, state: OtaImgState.VALID });
      expect(result.image.version).toBe('1.0.0');
      expect(bundleSource(result.image)).toContain('globalThis.firmwareVersion = "1.0.0"');
      expect(device.otadata()[0]).toEqual(makeOtaSelectEntry(1, OtaImgState.VALID));
      expect(states(device)).toEqual(['1:VALID', 'empty']);
      // a second boot changes nothing in flash
      const again = device.reboot();
      expect(again).toMatchObject({ slot: 'ota_0', code: 'selected' });
      expect(device.flash.stats.writes + device.flash.stats.erases).toBe(0);
    });
  });

  test('otadata empty, only ota_1 holds an image: tries ota_0, then ota_1, and records seq 2', () => {
    withDevice((device) => {
      installInitialImage(device.flash, v1, 'ota_1');
      const result = device.reboot();
      expect(result.slot).toBe('ota_1');
      expect(result.code).toBe('fallback');
      expect(result.problems.map((p) => p.code)).toEqual(['empty']);
      expect(states(device)).toEqual(['2:VALID', 'empty']);
    });
  });

  test('an image built for another board does not boot (as ESP-IDF refuses another chip ID)', () => {
    withDevice((device) => {
      installInitialImage(device.flash, appImage('1.0.0', { board: 'esp32-devkitc' }));
      expect(() => device.reboot()).toThrow(/ota_0: slot ota_0 holds an image for board "esp32-devkitc"; this device is "test-ota"/);
    });
  });
});

describe('an update: new → pending verify → valid', () => {
  test('setBootPartition writes seq 2 NEW into the other sector; the next boot makes it PENDING_VERIFY; markValid makes it VALID', () => {
    withDevice((device) => {
      flashedWithV1(device);
      const ops = device.ops('ota_0');
      expect(ops.runningPartition().label).toBe('ota_0');
      expect(ops.nextUpdatePartition().label).toBe('ota_1');
      expect(ops.bootPartition()?.label).toBe('ota_0');

      const target = device.stageUpdate('ota_0', v2);
      expect(target).toBe('ota_1');
      expect(states(device)).toEqual(['1:VALID', '2:NEW']);
      expect(ops.bootPartition()?.label).toBe('ota_1');
      expect(ops.partitionState('ota_1')).toBe(OtaImgState.NEW);

      const first = device.reboot();
      expect(first).toMatchObject({ slot: 'ota_1', code: 'first-boot', rolledBack: false, state: OtaImgState.PENDING_VERIFY });
      expect(first.image.version).toBe('1.1.0');
      expect(states(device)).toEqual(['1:VALID', '2:PENDING_VERIFY']);

      device.ops('ota_1').markValid();
      expect(states(device)).toEqual(['1:VALID', '2:VALID']);
      const second = device.reboot();
      expect(second).toMatchObject({ slot: 'ota_1', code: 'selected', rolledBack: false, state: OtaImgState.VALID });
      // markValid again is a no-op (no flash write)
      const before = device.flash.stats.writes;
      device.ops('ota_1').markValid();
      expect(device.flash.stats.writes).toBe(before);
    });
  });

  test('sequence numbers climb and the two sectors alternate over updates', () => {
    withDevice((device) => {
      let running = flashedWithV1(device);
      const seen: string[][] = [];
      for (const image of [v2, v3, appImage('1.3.0'), appImage('1.4.0')]) {
        device.stageUpdate(running.slot, image);
        running = device.reboot();
        device.ops(running.slot).markValid();
        running = device.reboot();
        seen.push(states(device));
      }
      expect(seen).toEqual([
        ['1:VALID', '2:VALID'],
        ['3:VALID', '2:VALID'],
        ['3:VALID', '4:VALID'],
        ['5:VALID', '4:VALID'],
      ]);
      expect(running.image.version).toBe('1.4.0');
      expect(running.slot).toBe('ota_0'); // seq 5: (5 - 1) % 2
    });
  });

  test('esp_ota_begin erases the inactive otadata entry first, so a rollback cannot land on the slot being rewritten', () => {
    withDevice((device) => {
      let running = flashedWithV1(device);
      device.stageUpdate(running.slot, v2);
      running = device.reboot();
      device.ops(running.slot).markValid();
      expect(states(device)).toEqual(['1:VALID', '2:VALID']);
      device.ops('ota_1').beginUpdate('ota_0');
      expect(states(device)).toEqual(['empty', '2:VALID']);
    });
  });

  test('setBootPartition of the slot otadata already selects rewrites that entry in place, NEW, same seq', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.ops('ota_0').setBootPartition('ota_1');
      expect(states(device)).toEqual(['1:VALID', '2:NEW']);
    });
  });
});

describe('rollback', () => {
  test('pending verify + reset: the bootloader marks it ABORTED and boots the previous image', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      expect(device.reboot().state).toBe(OtaImgState.PENDING_VERIFY);
      // the new image crashes, hangs or is reset before markValid
      const rolled = device.reboot();
      expect(rolled).toMatchObject({ slot: 'ota_0', code: 'rollback', rolledBack: true, abortedPending: true, state: OtaImgState.VALID });
      expect(rolled.image.version).toBe('1.0.0');
      expect(rolled.reason).toMatch(/the newest image, ota_1 \(otadata\[1\] seq 2\), is rejected \(it was still PENDING_VERIFY at this boot: the previous boot never marked it valid, so it is now ABORTED\); booting ota_0/);
      expect(states(device)).toEqual(['1:VALID', '2:ABORTED']);
      const ops = device.ops('ota_0');
      expect(ops.lastInvalidPartition()?.label).toBe('ota_1');
      expect(ops.bootPartition()?.label).toBe('ota_0');
      // later boots stay on the old image and still say why
      const later = device.reboot();
      expect(later).toMatchObject({ slot: 'ota_0', rolledBack: true, abortedPending: false });
      expect(later.reason).toMatch(/ABORTED at an earlier boot/);
      // the next update goes to ota_1 again and the device recovers; esp_ota_begin erased the
      // ABORTED entry, so seq 2 is computed afresh from the active seq 1
      device.stageUpdate('ota_0', v3);
      expect(states(device)).toEqual(['1:VALID', '2:NEW']);
      expect(device.reboot()).toMatchObject({ slot: 'ota_1', code: 'first-boot', rolledBack: false });
    });
  });

  test('the app rejects itself: markInvalidAndRollback, restart, the previous image boots', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.reboot();
      const ops = device.ops('ota_1');
      expect(ops.rollbackPossible()).toBe(true);
      ops.markInvalidAndRollback();
      expect(states(device)).toEqual(['1:VALID', '2:INVALID']);
      const rolled = device.reboot();
      expect(rolled).toMatchObject({ slot: 'ota_0', rolledBack: true, abortedPending: false, code: 'rollback' });
      expect(rolled.reason).toMatch(/the app marked itself INVALID/);
    });
  });

  test('markInvalidAndRollback with nothing to roll back to is refused and writes nothing', () => {
    withDevice((device) => {
      flashedWithV1(device);
      const ops = device.ops('ota_0');
      expect(ops.rollbackPossible()).toBe(false);
      const writes = device.flash.stats.writes + device.flash.stats.erases;
      expect(() => ops.markInvalidAndRollback()).toThrow(OtaError);
      expect(() => ops.markInvalidAndRollback()).toThrow(/ESP_ERR_OTA_ROLLBACK_FAILED/);
      expect(device.flash.stats.writes + device.flash.stats.erases).toBe(writes);
    });
  });

  test('rollback is not possible when the previous slot\'s image has been damaged', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.reboot();
      device.flash.write(0x10000 + 200, new Uint8Array([0])); // a byte of v1's payload in ota_0
      expect(device.ops('ota_1').rollbackPossible()).toBe(false);
    });
  });

  test('a rejected image is never selected again, but ESP-IDF\'s fallback still boots it when nothing else loads', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.reboot();
      device.reboot(); // aborted, back on v1
      device.flash.eraseSector(0x10); // v1's header in ota_0 is gone
      const result = device.reboot();
      expect(result).toMatchObject({ slot: 'ota_1', code: 'fallback', rolledBack: false });
      expect(result.image.version).toBe('1.1.0');
      expect(result.problems).toEqual([expect.objectContaining({ label: 'ota_0', code: 'empty' })]);
    });
  });

  test('the selected image is corrupt: the bootloader falls back, and the entry it set PENDING_VERIFY is aborted next time', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.flash.write(0x20000 + 300, new Uint8Array([0x00])); // flip bits in v2's payload
      const result = device.reboot();
      expect(result).toMatchObject({ slot: 'ota_0', code: 'fallback' });
      expect(result.problems).toEqual([expect.objectContaining({ label: 'ota_1', code: 'hash-mismatch' })]);
      expect(result.reason).toMatch(/payload SHA-256 mismatch/);
      expect(states(device)).toEqual(['1:VALID', '2:PENDING_VERIFY']);
      const next = device.reboot();
      expect(next).toMatchObject({ slot: 'ota_0', code: 'rollback', rolledBack: true });
      expect(states(device)).toEqual(['1:VALID', '2:ABORTED']);
    });
  });

  test('both slots bad: a BootError that names each problem and the otadata', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.flash.write(0x10000 + 48, new Uint8Array([0x00])); // v1: first byte of the version field, so the header CRC fails
      device.flash.write(0x20000 + 5000, new Uint8Array([0x00])); // v2: payload
      let error: BootError | undefined;
      try {
        device.reboot();
      } catch (e) {
        error = e as BootError;
      }
      expect(error).toBeInstanceOf(BootError);
      expect(error!.problems.map((p) => `${p.label} ${p.code}`)).toEqual(['ota_1 hash-mismatch', 'ota_0 header-corrupt']);
      expect(error!.message).toMatch(/ota_1: slot ota_1 payload SHA-256 mismatch.*; ota_0: slot ota_0 header CRC mismatch.*otadata: \[0\] seq 1 → ota_0, VALID, crc ok; \[1\] seq 2 → ota_1, PENDING_VERIFY, crc ok/);
    });
  });
});

describe('app-side checks (esp_ota_ops)', () => {
  test('beginUpdate refuses the running slot and refuses while the running app is PENDING_VERIFY', () => {
    withDevice((device) => {
      flashedWithV1(device);
      expect(() => device.ops('ota_0').beginUpdate('ota_0')).toThrow(/ESP_ERR_OTA_PARTITION_CONFLICT/);
      device.stageUpdate('ota_0', v2);
      device.reboot();
      expect(() => device.ops('ota_1').beginUpdate('ota_0')).toThrow(/ESP_ERR_OTA_ROLLBACK_INVALID_STATE: the running app \(ota_1\) is PENDING_VERIFY/);
      device.ops('ota_1').markValid();
      expect(() => device.ops('ota_1').beginUpdate('ota_0')).not.toThrow();
    });
  });

  test('setBootPartition refuses an empty, corrupt or foreign slot and leaves otadata alone', () => {
    withDevice((device) => {
      flashedWithV1(device);
      const ops = device.ops('ota_0');
      expect(() => ops.setBootPartition('ota_1')).toThrow(/ESP_ERR_OTA_VALIDATE_FAILED: slot ota_1 is all 0xFF/);
      writeImageToSlot(new PartitionView(device.flash, appLayout(device.flash.partitions()).ota[1]!), appImage('1.1.0', { board: 'other' }));
      expect(() => ops.setBootPartition('ota_1')).toThrow(/ESP_ERR_OTA_VALIDATE_FAILED: slot ota_1 holds an image for board "other"/);
      expect(() => ops.setBootPartition('ota_7' as 'ota_1')).toThrow(/ESP_ERR_NOT_FOUND: No app partition ota_7 on board test-ota; it has: ota_0, ota_1/);
      expect(states(device)).toEqual(['1:VALID', 'empty']);
    });
  });

  test('markValid on a device whose otadata is empty (factory-style boot) is ESP_FAIL', () => {
    withDevice((device) => {
      installInitialImage(device.flash, v1);
      // the app runs before any boot recorded ota_seq
      expect(() => new OtaOps(device.flash, 'ota_0').markValid()).toThrow(/ESP_FAIL: no active otadata entry/);
    });
  });

  test('nextUpdatePartition wraps from the last slot to ota_0', () => {
    withDevice((device) => {
      expect(device.ops('ota_0').nextUpdatePartition().label).toBe('ota_1');
      expect(device.ops('ota_1').nextUpdatePartition().label).toBe('ota_0');
    });
  });

  test('ESP-IDF quirk kept: markValid confirms the active entry even when a fallback runs another slot', () => {
    withDevice((device) => {
      flashedWithV1(device);
      device.stageUpdate('ota_0', v2);
      device.flash.write(0x20000 + 300, new Uint8Array([0x00]));
      const result = device.reboot();
      expect(result.slot).toBe('ota_0');
      device.ops(result.slot).markValid();
      expect(states(device)).toEqual(['1:VALID', '2:VALID']);
      expect(device.reboot()).toMatchObject({ slot: 'ota_0', code: 'fallback' });
    });
  });
});

describe('the real board and the real firmware bundle', () => {
  test('esp32-devkitc: the bundle fits a 1.5 MB slot and boots, updates and rolls back', () => {
    const bundle = bundleFirmware({ board: 'esp32-devkitc' });
    const image = buildImage({ version: '1.0.0', board: 'esp32-devkitc', bundle });
    const layout = appLayout(esp32DevkitC.partitions);
    expect(image.length).toBeLessThan(layout.ota[0]!.size);
    const device = new SimDevice(newPath(), esp32DevkitC);
    try {
      installInitialImage(device.flash, image);
      const first = device.reboot();
      expect(bundleSource(first.image)).toBe(bundle);
      expect(device.otadata()[0]).toEqual(makeOtaSelectEntry(1, OtaImgState.VALID));
      expect(device.flash.read(0xd000, 32)).toEqual(encodeOtaSelectEntry(makeOtaSelectEntry(1, OtaImgState.VALID))); // otadata at 0xd000
      device.stageUpdate('ota_0', buildImage({ version: '1.1.0', board: 'esp32-devkitc', bundle }));
      expect(device.reboot()).toMatchObject({ slot: 'ota_1', code: 'first-boot' });
      expect(device.reboot()).toMatchObject({ slot: 'ota_0', code: 'rollback', rolledBack: true });
    } finally {
      device.close();
    }
  });

  test('FlashImage without an otadata partition: the first app that loads', () => {
    const board = { ...otaBoard, name: 'test-no-otadata', partitions: otaBoard.partitions.filter((p) => p.label !== 'otadata') };
    const flash = FlashImage.open(newPath(), board);
    try {
      writeImageToSlot(new PartitionView(flash, appLayout(flash.partitions()).ota[1]!), appImage('1.0.0', { board: board.name }));
      expect(boot(flash)).toMatchObject({ slot: 'ota_1', code: 'fallback' });
    } finally {
      flash.close();
    }
  });
});
