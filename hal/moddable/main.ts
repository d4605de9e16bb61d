/**
 * The Moddable program entry (manifest.json "creation.main": "hal/moddable/main"). XS imports
 * it after the setup modules have run (setup/network joins Wi-Fi from `ssid`/`password` and,
 * with `sntp` set, sets the clock) and calls its default export.
 *
 * Board: this image is built for boards/esp32-devkitc, whose partition table the manifest's
 * PARTITIONS_FILE also names; a build for another board changes this import and that file.
 * (The board is chosen when building, not read from `mc/config` at run time: the partition
 * table and sdkconfig are fixed into the image anyway.)
 *
 * The relative paths below climb two folders, which XS cannot resolve by itself; the build's
 * compiler step (cli/build/tsc-for-xs.mjs) turns them into the module names
 * "firmware/main", "firmware/version" and "boards/esp32-devkitc".
 */
import board from "../../boards/esp32-devkitc";
import { boot } from "../../firmware/main";
import { FIRMWARE_VERSION } from "../../firmware/version";
import { createModdableHal } from "./index";

export default function main(): void {
  boot(createModdableHal(board, { firmwareVersion: FIRMWARE_VERSION }));
}
