// De-identification of DICOM files in the browser, before a folder is zipped and uploaded:
// DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile with the Retain UIDs
// option (so results still reference the original study and series). Pixel data and geometry
// are untouched; a file that says pixels carry burned-in text is reported, since the profile
// cannot clean pixels.
//
// What it does: attributes of the profile's table that identify a person, place or time are
// emptied (Z: kept, zero length, so Type 2 attributes stay present) or removed (X); private
// (odd-group) attributes and overlay data are removed; PatientIdentityRemoved = YES and the
// method are added. Sequences are rewritten item by item. Limit: in an implicit-VR file a
// sequence with a defined length cannot be told from other data without a dictionary and is
// kept as it is, unless the profile removes it whole.

const EMPTY = 'Z';
const REMOVE = 'X';
type Action = typeof EMPTY | typeof REMOVE;

/** (group << 16 | element) -> action; the profile's person/place/time attributes. */
const PROFILE: ReadonlyMap<number, Action> = new Map<number, Action>([
  // patient
  [0x00100010, EMPTY], // PatientName
  [0x00100020, EMPTY], // PatientID
  [0x00100021, REMOVE], // IssuerOfPatientID
  [0x00100030, EMPTY], // PatientBirthDate
  [0x00100032, REMOVE], // PatientBirthTime
  [0x00100040, EMPTY], // PatientSex
  [0x00100050, REMOVE], // PatientInsurancePlanCodeSequence
  [0x00101000, REMOVE], // OtherPatientIDs
  [0x00101001, REMOVE], // OtherPatientNames
  [0x00101002, REMOVE], // OtherPatientIDsSequence
  [0x00101005, REMOVE], // PatientBirthName
  [0x00101010, REMOVE], // PatientAge
  [0x00101020, REMOVE], // PatientSize
  [0x00101030, REMOVE], // PatientWeight
  [0x00101040, REMOVE], // PatientAddress
  [0x00101060, REMOVE], // PatientMotherBirthName
  [0x00101080, REMOVE], // MilitaryRank
  [0x00101090, REMOVE], // MedicalRecordLocator
  [0x00102150, REMOVE], // CountryOfResidence
  [0x00102152, REMOVE], // RegionOfResidence
  [0x00102154, REMOVE], // PatientTelephoneNumbers
  [0x00102160, REMOVE], // EthnicGroup
  [0x00102180, REMOVE], // Occupation
  [0x001021b0, REMOVE], // AdditionalPatientHistory
  [0x001021f0, REMOVE], // PatientReligiousPreference
  [0x00104000, REMOVE], // PatientComments
  [0x00380010, REMOVE], // AdmissionID
  [0x00380300, REMOVE], // CurrentPatientLocation
  [0x00380400, REMOVE], // PatientInstitutionResidence
  // study, visit, request
  [0x00080020, EMPTY], // StudyDate
  [0x00080021, REMOVE], // SeriesDate
  [0x00080022, REMOVE], // AcquisitionDate
  [0x00080023, EMPTY], // ContentDate
  [0x0008002a, REMOVE], // AcquisitionDateTime
  [0x00080030, EMPTY], // StudyTime
  [0x00080031, REMOVE], // SeriesTime
  [0x00080032, REMOVE], // AcquisitionTime
  [0x00080033, EMPTY], // ContentTime
  [0x00080050, EMPTY], // AccessionNumber
  [0x00080080, REMOVE], // InstitutionName
  [0x00080081, REMOVE], // InstitutionAddress
  [0x00080090, EMPTY], // ReferringPhysicianName
  [0x00080092, REMOVE], // ReferringPhysicianAddress
  [0x00080094, REMOVE], // ReferringPhysicianTelephoneNumbers
  [0x00080096, REMOVE], // ReferringPhysicianIdentificationSequence
  [0x00081010, REMOVE], // StationName
  [0x00081030, REMOVE], // StudyDescription
  [0x0008103e, REMOVE], // SeriesDescription
  [0x00081040, REMOVE], // InstitutionalDepartmentName
  [0x00081048, REMOVE], // PhysiciansOfRecord
  [0x00081050, REMOVE], // PerformingPhysicianName
  [0x00081060, REMOVE], // NameOfPhysiciansReadingStudy
  [0x00081070, REMOVE], // OperatorsName
  [0x00081080, REMOVE], // AdmittingDiagnosesDescription
  [0x00081120, REMOVE], // ReferencedPatientSequence
  [0x00082111, REMOVE], // DerivationDescription
  [0x00181000, REMOVE], // DeviceSerialNumber
  [0x00181030, REMOVE], // ProtocolName
  [0x00200010, EMPTY], // StudyID
  [0x00204000, REMOVE], // ImageComments
  [0x00321032, REMOVE], // RequestingPhysician
  [0x00321060, REMOVE], // RequestedProcedureDescription
  [0x00324000, REMOVE], // StudyComments
  [0x00400241, REMOVE], // PerformedStationAETitle
  [0x00400242, REMOVE], // PerformedStationName
  [0x00400243, REMOVE], // PerformedLocation
  [0x00400244, REMOVE], // PerformedProcedureStepStartDate
  [0x00400245, REMOVE], // PerformedProcedureStepStartTime
  [0x00400253, REMOVE], // PerformedProcedureStepID
  [0x00400254, REMOVE], // PerformedProcedureStepDescription
  [0x00400275, REMOVE], // RequestAttributesSequence
  [0x00401001, REMOVE], // RequestedProcedureID
  [0x00402016, REMOVE], // PlacerOrderNumberImagingServiceRequest
  [0x00402017, REMOVE], // FillerOrderNumberImagingServiceRequest
  [0x0040a123, REMOVE], // PersonName
  [0x00880140, REMOVE], // StorageMediaFileSetUID
  [0x4008010c, REMOVE], // InterpretationAuthor
  [0xfffafffa, REMOVE], // DigitalSignaturesSequence
]);

const PATIENT_IDENTITY_REMOVED = 0x00120062;
const DEIDENTIFICATION_METHOD = 0x00120063;
const BURNED_IN_ANNOTATION = 0x00280301;
const PIXEL_DATA = 0x7fe00010;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const UNDEFINED = 0xffffffff;
const METHOD = 'Basic Application Confidentiality Profile; Retain UIDs Option';
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

export class DicomDeidentifyError extends Error {}

interface Element {
  tag: number;
  vr: string | null; // null in implicit VR
  value?: Uint8Array; // raw value (also encapsulated pixel data, kept with its own delimiters)
  items?: Element[][]; // a sequence, parsed
  undefinedRaw?: boolean; // encapsulated pixel data: written back with an undefined length
}

class Reader {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    readonly explicit: boolean,
  ) {}
  private view(n: number): DataView {
    if (this.pos + n > this.bytes.length) throw new DicomDeidentifyError('The DICOM file is truncated.');
    return new DataView(this.bytes.buffer, this.bytes.byteOffset + this.pos, n);
  }
  u16(): number {
    const v = this.view(2).getUint16(0, true);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.view(4).getUint32(0, true);
    this.pos += 4;
    return v;
  }
  tag(): number {
    const group = this.u16();
    return ((group << 16) | this.u16()) >>> 0;
  }
  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new DicomDeidentifyError('The DICOM file is truncated.');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
}

function readElements(r: Reader, end: number, stopAt: number | null): Element[] {
  const out: Element[] = [];
  while (r.pos < end) {
    const tag = r.tag();
    if (stopAt !== null && tag === stopAt) {
      r.u32();
      break;
    }
    let vr: string | null = null;
    let length: number;
    if (r.explicit && tag >>> 16 !== 0xfffe) {
      vr = String.fromCharCode(r.bytes[r.pos], r.bytes[r.pos + 1]);
      r.pos += 2;
      if (LONG_VRS.has(vr)) {
        r.pos += 2;
        length = r.u32();
      } else length = r.u16();
    } else length = r.u32();
    if (tag === PIXEL_DATA && length === UNDEFINED) {
      out.push({ tag, vr, value: r.take(encapsulatedLength(r)), undefinedRaw: true });
    } else if (vr === 'SQ' || (length === UNDEFINED && tag !== PIXEL_DATA)) {
      out.push({ tag, vr, items: readItems(r, length) });
    } else {
      out.push({ tag, vr, value: r.take(length) });
    }
  }
  return out;
}

function readItems(r: Reader, length: number): Element[][] {
  const end = length === UNDEFINED ? r.bytes.length : r.pos + length;
  const items: Element[][] = [];
  while (r.pos < end) {
    const tag = r.tag();
    const itemLength = r.u32();
    if (tag === SEQUENCE_END) break;
    if (tag !== ITEM) throw new DicomDeidentifyError('A sequence in the DICOM file is malformed.');
    items.push(itemLength === UNDEFINED ? readElements(r, r.bytes.length, ITEM_END) : readElements(r, r.pos + itemLength, null));
  }
  return items;
}

/** Bytes of encapsulated pixel data up to and including its sequence delimiter. */
function encapsulatedLength(r: Reader): number {
  const start = r.pos;
  const probe = new Reader(r.bytes, false);
  probe.pos = start;
  for (;;) {
    const tag = probe.tag();
    const length = probe.u32();
    if (tag === SEQUENCE_END) return probe.pos - start;
    probe.take(length);
  }
}

class Writer {
  private chunks: Uint8Array[] = [];
  size = 0;
  push(b: Uint8Array) {
    this.chunks.push(b);
    this.size += b.length;
  }
  u16(v: number) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.push(b);
  }
  u32(v: number) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.push(b);
  }
  tag(t: number) {
    this.u16(t >>> 16);
    this.u16(t & 0xffff);
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

function writeElements(w: Writer, elements: Element[], explicit: boolean) {
  for (const e of elements) {
    const body = e.items ? writeItems(e.items, explicit) : (e.value as Uint8Array);
    w.tag(e.tag);
    if (explicit && e.vr) {
      w.push(new TextEncoder().encode(e.vr));
      if (LONG_VRS.has(e.vr)) {
        w.u16(0);
        w.u32(e.undefinedRaw ? UNDEFINED : body.length);
      } else w.u16(body.length);
    } else w.u32(e.undefinedRaw ? UNDEFINED : body.length);
    w.push(body);
  }
}

function writeItems(items: Element[][], explicit: boolean): Uint8Array {
  const w = new Writer();
  for (const item of items) {
    const inner = new Writer();
    writeElements(inner, item, explicit);
    w.tag(ITEM);
    w.u32(inner.size);
    w.push(inner.bytes());
  }
  return w.bytes();
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value.length % 2 ? value + ' ' : value);
}

function clean(elements: Element[]): Element[] {
  const out: Element[] = [];
  for (const e of elements) {
    const group = e.tag >>> 16;
    const action = PROFILE.get(e.tag);
    const overlayText = group >= 0x6000 && group <= 0x60ff && [0x3000, 0x4000].includes(e.tag & 0xffff); // data, comments
    if (action === REMOVE || group % 2 === 1 || overlayText) continue;
    if (action === EMPTY) out.push({ tag: e.tag, vr: e.vr, value: new Uint8Array(0) });
    else if (e.items) out.push({ ...e, items: e.items.map(clean) });
    else out.push(e);
  }
  return out;
}

function withMarks(elements: Element[], explicit: boolean): Element[] {
  const marks: Element[] = [
    { tag: PATIENT_IDENTITY_REMOVED, vr: explicit ? 'CS' : null, value: text('YES') },
    { tag: DEIDENTIFICATION_METHOD, vr: explicit ? 'LO' : null, value: text(METHOD) },
  ];
  const kept = elements.filter((e) => e.tag !== PATIENT_IDENTITY_REMOVED && e.tag !== DEIDENTIFICATION_METHOD);
  return [...kept, ...marks].sort((a, b) => a.tag - b.tag);
}

export interface Deidentified {
  bytes: Uint8Array;
  /** The file says its pixels carry burned-in text (BurnedInAnnotation = YES): not cleaned. */
  burnedIn: boolean;
}

/** True for a DICOM Part 10 file (128-byte preamble, then "DICM"). */
export function isDicomPart10(bytes: Uint8Array): boolean {
  return bytes.length > 132 && String.fromCharCode(...bytes.subarray(128, 132)) === 'DICM';
}

export function deidentifyDicom(bytes: Uint8Array): Deidentified {
  if (!isDicomPart10(bytes)) throw new DicomDeidentifyError('Not a DICOM file (no DICM marker).');
  const meta = new Reader(bytes, true);
  meta.pos = 132;
  const metaStart = meta.pos;
  let syntax = '';
  while (meta.pos < bytes.length && new DataView(bytes.buffer, bytes.byteOffset + meta.pos, 2).getUint16(0, true) === 0x0002) {
    const [e] = readElements(meta, meta.pos + 1, null); // an end just past the start reads exactly one element
    if (e.tag === 0x00020010) syntax = new TextDecoder().decode(e.value).replace(/[\0 ]+$/, '');
  }
  const metaBytes = bytes.subarray(metaStart, meta.pos);
  if (syntax === '1.2.840.10008.1.2.2') throw new DicomDeidentifyError('Big-endian DICOM files are not supported.');
  if (syntax === '1.2.840.10008.1.2.1.99') throw new DicomDeidentifyError('Deflated DICOM files are not supported.');
  const explicit = syntax !== '1.2.840.10008.1.2';
  const r = new Reader(bytes, explicit);
  r.pos = meta.pos;
  const dataset = readElements(r, bytes.length, null);
  const burned = dataset.find((e) => e.tag === BURNED_IN_ANNOTATION);
  const burnedIn = !!burned?.value && new TextDecoder().decode(burned.value).trim().toUpperCase() === 'YES';
  const w = new Writer();
  w.push(bytes.subarray(0, 132));
  w.push(metaBytes);
  writeElements(w, withMarks(clean(dataset), explicit), explicit);
  return { bytes: w.bytes(), burnedIn };
}
